"""A voice's tokens fitted on a listener stage that is not the shipped one, for reading with
``bench_voice.py --tokens`` (an experiment; nothing in voices/ is written).

The embeddings are the shipped ones (voices/emotions.json) with the decoder half taken from the
listener stage named by ``--listener-steps``, ``--listener-weight`` and ``--speaker-weight``, which
must have been fitted into the cache (emosynth.voice.learning.listener_fit.fit_listener_stage). The
voice's tokens are then fitted on them exactly as ``emosynth fit-emotions --tokens-only`` fits the
shipped ones (emosynth.voice.fitting.fit_voice: controls, the alpha search within the WER, speaker
and DNSMOS limits; 444 renditions or more, 30-35 minutes on one core):

    python benchmarks/stage_tokens.py --speaker-weight 1 --voice kumo \
        --embeddings-out benchmarks/results/emotions_speaker1.json --tokens-out benchmarks/results/tokens_kumo_speaker1.json
    python benchmarks/bench_voice.py --voices kumo --sentences 20 --sweep-sentences 3 \
        --tokens benchmarks/results/tokens_kumo_speaker1.json --out benchmarks/results/voice_kumo_speaker1.json
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from emosynth.io import cache_dir
from emosynth.recognizer import Recognizer
from emosynth.voice.emotion_contour import EmotionContour
from emosynth.voice.fitting import fit_voice
from emosynth.voice.learning.emotion_fit import EMOTIONS, EmotionFitSettings
from emosynth.voice.learning.kokoro_torch import DECODER_STYLE
from emosynth.voice.learning.listener_fit import ListenerFitState, read_listener_stage, stage_name
from emosynth.voice.learning.shipped import fit_material
from emosynth.voice.prosody import EmotionEmbeddings
from emosynth.voice.voices import assets_dir, voice_catalog


def stage_options(parser: argparse.ArgumentParser) -> None:
    """The options that name a listener stage (and the corpora its fit was made on)."""
    shipped = EmotionFitSettings()
    parser.add_argument("--data", type=Path, nargs="+", default=[Path("../shared/data/ravdess"), Path("../shared/data/nemo")])
    parser.add_argument("--listener-steps", type=int, default=shipped.listener_steps)
    parser.add_argument("--listener-weight", type=float, default=shipped.listener_weight)
    parser.add_argument("--speaker-weight", type=float, default=shipped.speaker_weight)


def finished_stage(args: argparse.Namespace) -> tuple[str, ListenerFitState]:
    """The named stage's fit key and state, read from the cache; exits if it is not finished."""
    settings = dataclasses.replace(EmotionFitSettings(), listener_steps=args.listener_steps,
                                   listener_weight=args.listener_weight, speaker_weight=args.speaker_weight)
    fit, _ = fit_material([str(d) for d in args.data], progress=False)
    folder = cache_dir() / "emotion-fit" / settings.key([m.content_sha256 for m in fit])
    stage = read_listener_stage(fit, folder, settings)
    if stage is None or not stage.done:
        raise SystemExit(f"{folder}: the listener stage {stage_name(settings)} is not finished")
    return f"{folder.name}+{stage_name(settings)}", stage


def stage_embeddings(key: str, stage: ListenerFitState) -> EmotionEmbeddings:
    """The shipped embeddings (voices/emotions.json) with the stage's decoder half."""
    base = EmotionEmbeddings.load(assets_dir() / "emotions.json")
    refitted = stage.decoder.embeddings()
    offsets = {e: base.offsets[e].copy() for e in EMOTIONS}
    for i, e in enumerate(EMOTIONS):
        offsets[e][DECODER_STYLE] = refitted[i, DECODER_STYLE]
    return EmotionEmbeddings(offsets, {
        "fit_key": key, "listener_stage": stage.summary(),
        "method": "voices/emotions.json's prosody half; the decoder half from the listener stage named by fit_key "
                  "(benchmarks/stage_tokens.py, an experiment)"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    stage_options(parser)
    parser.add_argument("--voice", choices=sorted(voice_catalog()), required=True)
    parser.add_argument("--embeddings-out", type=Path, required=True)
    parser.add_argument("--tokens-out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s")
    logging.getLogger("emosynth").setLevel(logging.INFO)

    key, stage = finished_stage(args)
    embeddings = stage_embeddings(key, stage)
    embeddings.save(args.embeddings_out)
    result = fit_voice(voice_catalog()[args.voice], recognizer=Recognizer.load(), embeddings=embeddings,
                       contour=EmotionContour.load(assets_dir() / "emotion_contour.npz"))
    result.tokens.save(args.tokens_out)
    print(f"{args.voice}: alpha {result.tokens.info['alpha']}; written {args.embeddings_out}, {args.tokens_out}")


if __name__ == "__main__":
    main()
