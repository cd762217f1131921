"""A quick read of a listener stage that is not the shipped one, before a full per-voice fit.

The voice's shipped tokens keep their explicit controls and contour; the decoder half of each
token's style is swapped for the stage's (the prosody half stays the shipped embedding's), and
every token is rescaled to each ``--alphas``. On the 12 fitting sentences: resemblyzer similarity
to the voice's neutral renditions and the shipped recognizer's mean target probability (against
the voice's shipped reference), beside the shipped fit's recorded search at the same alpha. No WER
or DNSMOS and no alpha choice: that is `benchmarks/stage_tokens.py`'s full fit. About 5 minutes for
three emotions at two alphas on one core:

    python benchmarks/stage_probe.py --speaker-weight 1 --voice kumo --alphas 1.0 1.5 --out benchmarks/results/stage_probe_kumo_speaker1.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emosynth.audio import Audio, prepare_array
from emosynth.emotions import PRIMARY_EMOTIONS
from emosynth.evaluation.speaker import SpeakerEncoder, cosine_similarity
from emosynth.io import write_text_atomic
from emosynth.recognizer import Recognizer
from emosynth.voice.backbone import SAMPLE_RATE_HZ
from emosynth.voice.fitting import FIT_SENTENCES, renditions
from emosynth.voice.learning.emotion_fit import EMOTIONS
from emosynth.voice.prosody import EmotionToken, EmotionTokenBank
from emosynth.voice.voices import Voice, load_reference, load_tokens, voice_catalog
from stage_tokens import finished_stage, stage_embeddings, stage_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    stage_options(parser)
    parser.add_argument("--voice", choices=sorted(voice_catalog()), default="kumo")
    parser.add_argument("--alphas", type=float, nargs="+", default=[1.0, 1.5])
    parser.add_argument("--emotions", nargs="+", choices=EMOTIONS, default=list(EMOTIONS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    key, stage = finished_stage(args)
    embeddings = stage_embeddings(key, stage)
    info, shipped = voice_catalog()[args.voice], load_tokens(args.voice)
    recognizer, encoder, reference = Recognizer.load(), SpeakerEncoder(), load_reference(args.voice)

    def speaker(audios: list[np.ndarray]) -> np.ndarray:
        return np.stack([encoder.embed(prepare_array(a, SAMPLE_RATE_HZ, target_rate_hz=16_000).samples) for a in audios])

    def voice(tokens: dict[str, EmotionToken]) -> Voice:
        return Voice(name=info.name, parts=((info, 1.0),), tokens=EmotionTokenBank(tokens=tokens), reference=None)

    neutral = speaker(renditions(voice({}), FIT_SENTENCES))
    result = {"voice": args.voice, "stage": key, "listener_stage": stage.summary()}
    for emotion in args.emotions:
        chosen, token = shipped.info["alpha"][emotion], shipped.tokens[emotion]
        offset = embeddings.offsets[emotion]
        for alpha in args.alphas:
            k = alpha / chosen
            audios = renditions(voice({emotion: EmotionToken(style=alpha * offset, controls=k * token.controls,
                                                              contour=k * token.contour)}), FIT_SENTENCES, emotion=emotion)
            similarity = float(np.mean([cosine_similarity(a, b) for a, b in zip(speaker(audios), neutral)]))
            features = np.stack([recognizer.features(Audio(a, SAMPLE_RATE_HZ)) for a in audios])
            target = PRIMARY_EMOTIONS.index(emotion)
            p = float(np.mean([s.probability_vector()[target] for s in recognizer.score_features(features, reference=reference)]))
            recorded = shipped.info["search"][emotion].get(str(alpha))
            result[f"{emotion} x{alpha:g}"] = {
                "stage": {"speaker_similarity": round(similarity, 4), "p": round(p, 4)},
                "shipped": {"speaker_similarity": recorded["speaker_similarity"], "p": recorded["p"]} if recorded else None}
            print(emotion, alpha, result[f"{emotion} x{alpha:g}"], flush=True)
    write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
