"""Where the voice's emotion is lost: the disjoint judge reads Kokoro's reconstructions of human
emotional clips from sentences the embeddings were never fitted on.

For every clip of the held-out nEMO sentences (emosynth.voice.learning.split) by the speakers the
embeddings were fitted on, the judge (trained on the other half of the speakers only) reads:

- ``recording``: the actor's own clip (the ceiling);
- ``copy``: Kokoro's decoder on the recording's own durations, F0 and energy, from the speaker's
  fitted neutral style: what the prosody alone carries through Kokoro's voice;
- ``copy+embedding``: the same with the emotion's decoder embedding: what the learned spectra add;
- ``generated``: Kokoro predicting its own durations, F0 and energy from the speaker's neutral
  style plus the emotion's prosody embedding, decoded from the neutral decoder style;
- ``generated+embedding``: both halves of the embedding, as `say` uses them (no explicit controls);
- ``timing+embedding``: the recording's own durations, with F0 and energy predicted for them
  (speaker's style plus both halves of the embedding): where prediction loses it, timing or curves;
- ``timing+f0+embedding``: the recording's durations and F0, energy predicted: F0 against energy;
- ``timing+affine+embedding``: as ``timing+embedding`` with the predicted F0 moved and scaled (in log
  Hz) to the recording's own voiced mean and spread, an oracle: what level and range alone carry;
- ``timing+contour+embedding``: as ``timing+embedding`` with the learned emotion contour
  (emosynth.voice.emotion_contour) reshaping the predicted F0;
- ``generated+contour+embedding``: as ``generated+embedding`` with the learned emotion contour
  (what `say` does with a contour, without explicit controls).

With ``--layer-steps N`` every ``+embedding`` condition also carries the decoder's per-layer
emotion offsets (emosynth.voice.learning.layer_fit) fitted N steps on top of the decoder half.
With ``--listener-steps N --listener-weight W [--speaker-weight K]`` every ``+embedding`` condition reads the decoder
embeddings the listener stage (emosynth.voice.learning.listener_fit) refitted instead. With
``--other-judges base functionals`` each condition is also read by a judge on Whisper base's
features alone and by one on acoustic functionals (benchmarks/functionals_judge.py), both trained
on the judge-side speakers too: the listener stage's listener reads Whisper tiny.en, so neither
shares an encoder with it, and the second shares no neural network with anything.

Each condition is read in plain mode and against that condition's own neutral clips of the same
speaker (leave-one-out for the neutral clips themselves), the way bench_voice reads a voice.
Float onnxruntime graph (what the fit used); nEMO has no disgust, so six classes.

    python benchmarks/bench_emotion_carry.py --out benchmarks/results/emotion_carry.json
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import time
from pathlib import Path

import numpy as np

from emosynth.emotions import PRIMARY_EMOTIONS
from emosynth.io import cache_dir, write_text_atomic
from emosynth.voice.backbone import Backbone, ProsodyPrediction
from emosynth.voice.emotion_contour import EmotionContour
from emosynth.voice.learning.emotion_fit import EMOTIONS, EmotionFitSettings, merged_embeddings, read_half
from emosynth.voice.learning.layer_fit import read_layers
from emosynth.voice.learning.listener_fit import read_listener_stage, stage_name
from emosynth.voice.learning.kokoro_torch import DECODER_STYLE, PROSODY_STYLE, alignment_matrix
from emosynth.voice.learning.material import ClipMaterial
from emosynth.voice.learning.shipped import fit_material

CONDITIONS = ("recording", "copy", "copy+embedding", "generated", "generated+embedding", "timing+embedding",
              "timing+f0+embedding", "timing+affine+embedding", "timing+contour+embedding",
              "generated+contour+embedding")


class Styles:
    """The fitted speakers' neutral styles (decoder half from the decoder fit, prosody half from the
    predictor fit) and the embeddings, as 256-d numpy vectors."""

    def __init__(self, fit: list[ClipMaterial], settings: EmotionFitSettings, prosody: EmotionFitSettings,
                 *, layers: bool = False, listener: bool = False) -> None:
        hashes = [m.content_sha256 for m in fit]
        folders = {"decoder": cache_dir() / "emotion-fit" / settings.key(hashes),
                   "prosody": cache_dir() / "emotion-fit" / prosody.key(hashes)}
        states = {h: read_half(fit, folders[h], h) for h in ("prosody", "decoder")}
        for half, state in states.items():
            if state is None or not state.done:
                raise SystemExit(f"{folders[half]}: the {half} fit is not finished; run `emosynth fit-emotions` first")
        dec, pro = (states[h].styles for h in ("decoder", "prosody"))
        self.speakers = list(dec.speakers)
        self.levels = states["decoder"].levels
        speaker = dec.speaker.detach().numpy().copy()  # each half's speaker styles from that half's fit
        speaker[:, PROSODY_STYLE] = pro.speaker.detach().numpy()[:, PROSODY_STYLE]
        self.speaker = {s: speaker[i].astype(np.float32) for i, s in enumerate(self.speakers)}
        offsets = merged_embeddings([states["prosody"], states["decoder"]]).offsets
        self.embedding = {e: v.astype(np.float32) for e, v in offsets.items()}
        self.steps = {h: states[h].step for h in states}
        self.layer_offsets: dict[str, np.ndarray] = {}
        if layers:
            state = read_layers(fit, folders["decoder"], settings)
            if state is None or not state.done:
                raise SystemExit(f"{folders['decoder']}: the per-layer fit of {settings.layer_steps} steps is not finished")
            self.layer_offsets = {e: v.astype(np.float32) for e, v in zip(EMOTIONS, state.offsets(), strict=True)}
            self.steps["layers"] = state.step
        if listener:
            stage = read_listener_stage(fit, folders["decoder"], settings)
            if stage is None or not stage.done:
                raise SystemExit(f"{folders['decoder']}: the listener stage {stage_name(settings)} is not finished")
            refitted = stage.decoder.styles.embedding.detach().numpy()
            for i, e in enumerate(EMOTIONS):
                self.embedding[e][DECODER_STYLE] = refitted[i, DECODER_STYLE]
            self.steps["listener"] = stage.step
            self.steps["listener_weight"] = settings.listener_weight
            self.steps["speaker_weight"] = settings.speaker_weight

    def offsets(self, clip: ClipMaterial, *, decoder: bool) -> np.ndarray | None:
        """The clip's per-layer offsets of the decoder style (None: none fitted, or not asked for)."""
        if not decoder or clip.emotion == "neutral" or not self.layer_offsets:
            return None
        return self.layer_offsets[clip.emotion]

    def style(self, clip: ClipMaterial, *, decoder: bool, prosody: bool) -> np.ndarray:
        style = self.speaker[clip.speaker].copy()
        if clip.emotion != "neutral":
            e = self.embedding[clip.emotion]
            if decoder:
                style[DECODER_STYLE] += e[DECODER_STYLE]
            if prosody:
                style[PROSODY_STYLE] += e[PROSODY_STYLE]
        return style


def render(clip: ClipMaterial, condition: str, styles: Styles, backbone: Backbone,
           contour: EmotionContour | None = None) -> np.ndarray:
    """24 kHz audio of ``clip`` under ``condition``."""
    level = styles.levels[clip.speaker]
    if condition == "recording":
        return clip.audio_24k * math.exp(level / 2.0)
    embedded = condition.endswith("embedding")
    if condition.startswith(("copy", "timing")):
        style = styles.style(clip, decoder=embedded, prosody=condition.startswith("timing"))
        alignment = alignment_matrix(clip.frames_per_token, clip.sentence.t_en.shape[-1])
        f0, energy = clip.f0_hz.astype(np.float32), (clip.energy + level).astype(np.float32)
        if condition.startswith("timing"):
            predicted_f0, energy = _predicted_curves(clip, style, alignment)
            if "+f0" not in condition:
                f0 = predicted_f0
            if "+affine" in condition:
                f0 = _affine_to(f0, clip.f0_hz)
        aligned = (clip.sentence.t_en @ alignment.numpy()).astype(np.float32)
        p = ProsodyPrediction(clip.token_ids, style, clip.frames_per_token, f0, energy, aligned,
                              styles.offsets(clip, decoder=embedded))
    else:
        p = dataclasses.replace(backbone.predict(clip.token_ids, styles.style(clip, decoder=embedded, prosody=True)),
                                style_offsets=styles.offsets(clip, decoder=embedded))
    if "+contour" in condition and clip.emotion != "neutral":
        p = contour.shaped(p, contour.vector(_one_hot(clip.emotion)))
    return backbone.decode(p).audio


def _one_hot(emotion: str) -> np.ndarray:
    return np.asarray([1.0 if e == emotion else 0.0 for e in PRIMARY_EMOTIONS])


def _affine_to(f0: np.ndarray, target_hz: np.ndarray) -> np.ndarray:
    """``f0``'s voiced log values moved and scaled to the mean and spread of ``target_hz``'s voiced steps."""
    voiced, target = f0 > 40.0, target_hz > 0
    if voiced.sum() < 2 or target.sum() < 2:
        return f0
    log_f0, log_t = np.log(f0[voiced]), np.log(target_hz[target])
    scaled = (log_f0 - log_f0.mean()) * (log_t.std() / max(log_f0.std(), 1e-6)) + log_t.mean()
    out = f0.copy()
    out[voiced] = np.exp(scaled)
    return out.astype(np.float32)


def _predicted_curves(clip: ClipMaterial, style: np.ndarray, alignment) -> tuple[np.ndarray, np.ndarray]:
    """Kokoro's predictor's F0 and energy for the clip's own durations (torch twin)."""
    import torch

    prosody = _prosody_model()
    with torch.no_grad():
        s = torch.from_numpy(style)[None, :]
        f0, energy = prosody.curves(prosody.encode(torch.from_numpy(clip.sentence.d_en), s), alignment, s)
    return f0[0].numpy().astype(np.float32), energy[0].numpy().astype(np.float32)


@functools.cache
def _prosody_model():
    from emosynth.voice.learning.kokoro_torch import KokoroProsody

    return KokoroProsody.from_float_graph()


def read(judge, features: dict, clips: list[ClipMaterial]) -> dict:
    """Plain and reference figures of one condition's features {clip index: (F,)}."""
    labels = sorted({c.emotion for c in clips}, key=PRIMARY_EMOTIONS.index)
    out = {}
    for mode in ("plain", "reference"):
        truth, heard, target_p = [], [], []
        for i, c in enumerate(clips):
            reference = None
            if mode == "reference":
                own = [j for j, d in enumerate(clips) if d.speaker == c.speaker and d.emotion == "neutral" and j != i]
                reference = judge.reference_from_features(np.stack([features[j] for j in own]))
            s = judge.score_features(features[i], reference=reference)[0]
            truth.append(c.emotion)
            heard.append(s.label)
            target_p.append(s.probabilities[c.emotion])
        recall = {e: float(np.mean([h == e for t, h in zip(truth, heard) if t == e])) for e in labels}
        confusion = {e: {h: sum(1 for t, x in zip(truth, heard) if t == e and x == h) for h in PRIMARY_EMOTIONS}
                     for e in labels}
        out[mode] = {"ua": round(float(np.mean(list(recall.values()))), 4),
                     "recall": {e: round(v, 4) for e, v in recall.items()},
                     "target_probability": {e: round(float(np.mean([p for t, p in zip(truth, target_p) if t == e])), 4)
                                            for e in labels},
                     "confusion": {e: {h: n for h, n in row.items() if n} for e, row in confusion.items()}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", type=Path, default=[Path("../shared/data/ravdess"), Path("../shared/data/nemo")])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/emotion_carry.json"))
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS),
                        help="read only these (the others already in --out, from the same fit, are kept)")
    parser.add_argument("--prosody-steps", type=int,
                        help="read a prosody half fitted this many steps (fit_half with those settings) instead "
                             "of the shipped one; the decoder half stays the shipped fit's")
    parser.add_argument("--decoder-steps", type=int,
                        help="read a decoder half fitted this many steps (fit_half with those settings) instead "
                             "of the shipped one")
    parser.add_argument("--layer-steps", type=int,
                        help="every +embedding condition also carries the decoder's per-layer offsets fitted "
                             "this many steps on top of the decoder half (emosynth.voice.learning.layer_fit)")
    parser.add_argument("--listener-steps", type=int,
                        help="every +embedding condition reads the decoder embeddings of the listener stage "
                             "fitted this many steps (emosynth.voice.learning.listener_fit)")
    parser.add_argument("--listener-weight", type=float, default=EmotionFitSettings().listener_weight,
                        help="the listener stage's perceptual weight (with --listener-steps)")
    parser.add_argument("--speaker-weight", type=float, default=EmotionFitSettings().speaker_weight,
                        help="the listener stage's speaker term's weight (with --listener-steps)")
    parser.add_argument("--other-judges", nargs="+", choices=["base", "functionals"], default=[],
                        help="also read every condition with these judges (judge-side speakers): Whisper base's "
                             "features alone, acoustic functionals")
    parser.add_argument("--contour", type=Path, default=Path("voices/emotion_contour.npz"),
                        help="the emotion contour model the +contour conditions read")
    parser.add_argument("--wav", type=Path, help="also write every rendering here (for listening)")
    args = parser.parse_args()

    from bench_voice import judge as disjoint_judge  # the same judge bench_voice reports with
    from functionals_judge import functionals_judge

    started = time.time()
    fit, held = fit_material([str(d) for d in args.data], progress=False)
    shipped = EmotionFitSettings()
    decoder_settings = dataclasses.replace(shipped, decoder_steps=args.decoder_steps or shipped.decoder_steps,
                                           layer_steps=args.layer_steps or shipped.layer_steps,
                                           listener_steps=args.listener_steps or shipped.listener_steps,
                                           listener_weight=args.listener_weight, speaker_weight=args.speaker_weight)
    styles = Styles(fit, decoder_settings,
                    shipped if args.prosody_steps is None else
                    dataclasses.replace(shipped, prosody_steps=args.prosody_steps), layers=args.layer_steps is not None,
                    listener=args.listener_steps is not None)
    clips = sorted([c for c in held if c.speaker in styles.speaker], key=lambda c: (c.speaker, c.sentence_id, c.emotion))
    judge = disjoint_judge(list(args.data))
    others = {name: functionals_judge(list(args.data)) if name == "functionals" else disjoint_judge(list(args.data), name)
              for name in args.other_judges}
    if "base" in others and not judge.weights.feature_set.endswith("+base"):
        raise SystemExit(f"the judge reads {judge.weights.feature_set}: Whisper base's states cannot be taken from it")
    backbone = Backbone.load(precision="float")
    contour = EmotionContour.load(args.contour) if any("contour" in c for c in args.conditions) else None
    steps = "".join(f" --{name}-steps {n}" for name, n in (("prosody", args.prosody_steps),
                                                            ("decoder", args.decoder_steps),
                                                            ("layer", args.layer_steps),
                                                            ("listener", args.listener_steps)) if n is not None)
    if args.listener_steps is not None:
        steps += f" --listener-weight {args.listener_weight:g}"
        if args.speaker_weight:
            steps += f" --speaker-weight {args.speaker_weight:g}"
    if args.other_judges:
        steps += f" --other-judges {' '.join(args.other_judges)}"
    chosen = "" if args.conditions == list(CONDITIONS) else f" --conditions {' '.join(args.conditions)}"
    result = {"command": f"python benchmarks/bench_emotion_carry.py{steps}{chosen} --out {args.out}",
              "clips": len(clips), "speakers": sorted({c.speaker for c in clips}),
              "sentences": sorted({c.sentence_id for c in clips}), "fit_steps": styles.steps,
              "judge": "bench_voice's disjoint judge (judge-side speakers only)", "conditions": {}}
    for condition in args.conditions:
        t0 = time.time()
        features, other_features = {}, {name: {} for name in others}
        for i, c in enumerate(clips):
            audio = render(c, condition, styles, backbone, contour)
            if args.wav:
                import soundfile as sf

                args.wav.mkdir(parents=True, exist_ok=True)
                sf.write(args.wav / f"{condition}_{c.speaker}_{c.sentence_id}_{c.emotion}.wav", audio, 24_000)
            features[i] = judge.features(_audio(audio))
            for name, other in others.items():
                # base's pooled states are the last part of the judge's (tiny.en+base): not computed twice
                other_features[name][i] = (features[i][-other.weights.pooled_sd.shape[0]:] if name == "base"
                                           else other.features(_audio(audio)))
        result["conditions"][condition] = {**read(judge, features, clips), "seconds": round(time.time() - t0, 1)}
        if others:
            result["conditions"][condition]["other_judges"] = {name: read(other, other_features[name], clips)
                                                               for name, other in others.items()}
        print(condition, {m: result["conditions"][condition][m]["ua"] for m in ("plain", "reference")}, flush=True)
    result["seconds"] = round(time.time() - started, 1)
    if args.out.exists():  # conditions read by an earlier run and not re-read now are kept
        earlier = json.loads(args.out.read_text())
        if earlier.get("fit_steps") == result["fit_steps"] and earlier.get("clips") == result["clips"]:
            result["conditions"] = {**{k: v for k, v in earlier["conditions"].items() if k not in args.conditions},
                                    **result["conditions"]}
            result["conditions"] = {k: result["conditions"][k] for k in CONDITIONS if k in result["conditions"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
    print(f"written {args.out}")


def _audio(samples: np.ndarray):
    from emosynth.audio import prepare_array

    return prepare_array(samples.astype(np.float32), 24_000)


if __name__ == "__main__":
    main()
