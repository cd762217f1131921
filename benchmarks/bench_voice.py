"""Measure `emosynth say`: emotion accuracy, intensity and valence-arousal control, intelligibility,
identity, predicted speech quality and speed, judged by recognizers trained on human speech.

The emotion figures are read twice: by the *disjoint judge*, a recognizer trained (shipped recipe)
on the judge half of RAVDESS and nEMO's speakers only, none of whom the voice's emotion
embeddings were fitted on (emosynth.voice.learning.split), which is the figure reported; and by
the shipped recognizer (trained on everyone). The judge is trained on first use into the cache
(features cached: minutes) from ``--data``.

    python benchmarks/bench_voice.py --voices kumo --out benchmarks/results/voice_kumo.json
    python benchmarks/bench_voice.py --voices kumo alpha --only-speed --out ...   # speed alone
    python benchmarks/bench_voice.py --voices kumo alpha --only-quality --out ...  # DNSMOS alone
    python benchmarks/bench_voice.py --voices kumo --tokens other.json --out ...    # other tokens

Per voice: every primary at intensity 1.0 on BENCH_SENTENCES (neutral wording; none of them is a
fitting sentence or a RAVDESS sentence), plus an intensity sweep (0, 0.25, 0.5, 0.75, 1) of every
non-neutral primary on the first ``--sweep-sentences`` of them. Clips are written to a folder with a
manifest and measured by `emosynth.evaluation.evaluate` (neutral reference = the voice's neutral
renditions of the same sentences). Speed: `Synthesizer.say` (text to saved audio, scoring off) vs
the bare backbone on the same chunks at neutral controls.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import time
from pathlib import Path

from emosynth.emotions import PRIMARY_EMOTIONS
from emosynth.evaluation import evaluate, read_manifest
from emosynth.io import cache_dir, write_text_atomic
from emosynth.recognizer import Recognizer, RecognizerWeights
from emosynth.recognizer.corpus import read_corpora
from emosynth.recognizer.features import DEFAULT_FEATURE_SET
from emosynth.recognizer.train import fit_on_speakers
from emosynth.synthesizer import Synthesizer
from emosynth.voice.backbone import Backbone
from emosynth.voice.prosody import EmotionTokenBank
from emosynth.voice.text import text_to_chunks
from emosynth.voice.voices import Voice, load_voice

BENCH_SENTENCES = (
    "The printer on the third floor needs new paper.",
    "Our flight departs from gate twelve at noon.",
    "The kitchen has a small window facing the street.",
    "He parked the car behind the grey building.",
    "The museum is closed on Mondays and public holidays.",
    "Please send the invoice to the main office.",
    "The river runs along the edge of the town.",
    "She keeps her notes in a green notebook.",
    "The train to the airport stops at four stations.",
    "There are two chairs and a lamp in the hallway.",
    "The shop sells fruit, bread and coffee.",
    "We will move the desk to the other side of the room.",
    "The form asks for your name and your address.",
    "The bridge was built about forty years ago.",
    "He checked the weather before he left the house.",
    "The cups are on the shelf above the sink.",
    "The next bus comes in about ten minutes.",
    "They planted a row of trees along the road.",
    "The lecture starts after the lunch break.",
    "My brother works at a hotel near the harbour.",
)
# Intensity 0 is rendered as its own clip labelled with the sweep's emotion (it is the neutral audio:
# "joy:0" is bit-identical to "neutral"), so the sweep has the five points; it is read
# against the voice's neutral reference, which holds the same sentence's neutral clip.
INTENSITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def generate(voice: str, folder: Path, n_sentences: int, sweep_sentences: int, reuse: bool = False,
             tokens: Path | None = None) -> Path:
    """Render the benchmark's clips into ``folder`` and write their manifest; with ``reuse``, clips
    already there (from an interrupted run of the same voice state) are kept; with ``tokens``, the
    voice reads with that token file instead of its shipped one."""
    synth = Synthesizer(_voice(voice, tokens))
    rows = []
    for i, text in enumerate(BENCH_SENTENCES[:n_sentences]):
        for emotion in PRIMARY_EMOTIONS:
            intensities = INTENSITIES if (emotion != "neutral" and i < sweep_sentences) else (1.0,)
            for x in intensities:
                name = f"{voice}_{i:02d}_{emotion}_{x:.2f}.wav"
                if not (reuse and (folder / name).exists()):
                    spec = f"{emotion}:{x}" if emotion != "neutral" else "neutral"
                    synth.say(text, emotion=spec, score=False).save(folder / name)
                rows.append({"file": name, "emotion": emotion, "intensity": x, "text": text, "speaker": voice})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def _voice(name: str, tokens: Path | None) -> Voice:
    voice = load_voice(name)
    return voice if tokens is None else dataclasses.replace(voice, tokens=EmotionTokenBank.load(tokens))


def judge(data: list[Path], feature_set: str = DEFAULT_FEATURE_SET) -> Recognizer:
    """The disjoint judge: trained on the judge side of the split only (cached once trained). On
    another feature set than the shipped one it is a second judge (e.g. ``base`` alone, to confirm
    what a listener on ``tiny.en`` taught)."""
    from emosynth.voice.learning.split import FIT_SPEAKERS, JUDGE_SPEAKERS

    suffix = "" if feature_set == DEFAULT_FEATURE_SET else f"_{feature_set}"
    path = cache_dir() / "voice-judge" / f"ser_judge_speakers{suffix}.npz"
    if path.exists():
        weights = RecognizerWeights.load(path)
    else:
        weights = fit_on_speakers(read_corpora(data), JUDGE_SPEAKERS, progress=True, feature_set=feature_set,
                                  note="bench_voice.py's disjoint judge: never trained on a speaker the "
                                       "emotion embeddings were fitted on")
        path.parent.mkdir(parents=True, exist_ok=True)
        weights.save(path)
    leaked = set(weights.info.get("training_speakers", [])) & FIT_SPEAKERS
    if leaked or not weights.info.get("training_speakers"):
        raise SystemExit(f"{path}: the judge must be trained on the judge speakers only (leaked: {sorted(leaked)})")
    return Recognizer(weights)


def read_emotion(manifest: Path, folder: Path, recognizers: dict[str, Recognizer]) -> dict:
    """The emotion figures of the clips by each recognizer, keyed by its role."""
    out = {}
    for role, recognizer in recognizers.items():
        report = evaluate(read_manifest(manifest, folder), recognizer=recognizer, progress=True).to_dict()
        out[role] = {k: v for k, v in report.items() if k not in ("clips", "wer", "similarity", "quality")}
    return out


def speed(voice: str, repeats: int = 3, tokens: Path | None = None) -> dict:
    text = " ".join(BENCH_SENTENCES[:4])
    synth = Synthesizer(_voice(voice, tokens))
    backbone = Backbone.load()
    synth.say(text, emotion="anger", score=False)  # warm up
    chunks = text_to_chunks(text)
    say_s, bare_s, audio_s = [], [], 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        u = synth.say(text, emotion="anger", score=False)
        u.save("/tmp/emosynth_bench_speed.wav")
        say_s.append(time.perf_counter() - t)
        audio_s = u.duration_s
        t = time.perf_counter()
        for c in chunks:
            backbone.synthesize(c.token_ids, synth.voice.style(c.n_tokens))
        bare_s.append(time.perf_counter() - t)
    return {"audio_s": round(audio_s, 2), "say_rtf": round(min(say_s) / audio_s, 3),
            "say_rtf_max": round(max(say_s) / audio_s, 3), "bare_backbone_s": round(min(bare_s), 3),
            "say_s": round(min(say_s), 3),
            "emotion_overhead": round(min(say_s) / min(bare_s) - 1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", nargs="+", default=["kumo"])
    parser.add_argument("--sentences", type=int, default=len(BENCH_SENTENCES), help="use the first N sentences")
    parser.add_argument("--sweep-sentences", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/emosynth_bench_voice"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results/voice.json")
    parser.add_argument("--only-speed", action="store_true",
                        help="measure just the speed (on an otherwise idle machine) and update it in --out")
    parser.add_argument("--only-quality", action="store_true",
                        help="measure just the predicted speech quality (DNSMOS) and update it in --out")
    parser.add_argument("--reuse-clips", action="store_true",
                        help="keep clips already in --work (an interrupted run with the same voices and tokens)")
    parser.add_argument("--only-emotion", action="store_true",
                        help="re-read just the emotion figures (a new recognizer) and update them in --out; "
                             "intelligibility, speaker, quality and speed stay as measured")
    parser.add_argument("--keep-speed", action="store_true",
                        help="keep the speed already in --out (measure it alone on an idle machine: --only-speed)")
    parser.add_argument("--judge-only", action="store_true",
                        help="with --only-emotion: read with the disjoint judge alone (half the time)")
    parser.add_argument("--tokens", type=Path, default=None,
                        help="read with this emotion-token file instead of the voice's shipped one (one voice; "
                             "results under 'VOICE (FILE's name)')")
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, action="append", default=None,
                        help="corpora the disjoint judge is trained from (default ../shared/data/ravdess and nemo)")
    args = parser.parse_args()
    if args.tokens is not None and len(args.voices) != 1:
        parser.error("--tokens applies to one voice")
    key = (lambda v: f"{v} ({args.tokens.stem})") if args.tokens else (lambda v: v)
    # the voices measured now replace their entries; other voices' results in --out stay
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.only_speed:
        for voice in args.voices:
            results.setdefault(key(voice), {})["speed"] = speed(voice, tokens=args.tokens)
            print(key(voice), json.dumps(results[key(voice)]["speed"]))
        write_text_atomic(args.out, json.dumps(results, indent=1) + "\n")
        return
    recognizer = Recognizer.load()
    recognizers = {"disjoint_judge": judge(args.data or [shared / "ravdess", shared / "nemo"])}
    if not (args.only_emotion and args.judge_only):
        recognizers["shipped_recognizer"] = recognizer
    for voice in args.voices:
        folder = args.work / (voice if args.tokens is None else f"{voice}_{args.tokens.stem}")
        folder.mkdir(parents=True, exist_ok=True)
        manifest = generate(voice, folder, args.sentences, args.sweep_sentences, reuse=args.reuse_clips,
                            tokens=args.tokens)
        if args.only_quality:
            report = evaluate(read_manifest(manifest, folder), recognizer=recognizer, with_quality=True,
                              progress=True).to_dict()
            results.setdefault(key(voice), {}).setdefault("evaluation", {})["quality"] = report["quality"]
            print(json.dumps({key(voice): report["quality"]}, indent=1))
            continue
        emotion = read_emotion(manifest, folder, recognizers)
        headline = {role: {k: r[k] for k in ("accuracy", "mean_monotonicity", "valence_r", "arousal_r")}
                    for role, r in emotion.items()}
        if args.only_emotion:
            results.setdefault(key(voice), {})["emotion"] = emotion
            print(json.dumps({key(voice): headline}, indent=1))
            continue
        report = evaluate(read_manifest(manifest, folder), recognizer=recognizer, with_asr=True,
                          with_speaker=True, with_quality=True, progress=True).to_dict()
        report.pop("clips")
        # what this run measures replaces its keys; others kept (e.g. a baseline recorded beside it)
        results[key(voice)] = {**results.get(key(voice), {}),
                               "sentences": args.sentences, "sweep_sentences": args.sweep_sentences,
                               "emotion": emotion,
                               "evaluation": {k: report[k] for k in ("wer", "similarity", "quality")}}
        if not args.keep_speed:
            results[key(voice)]["speed"] = speed(voice, tokens=args.tokens)
        print(json.dumps({key(voice): headline}, indent=1))
    write_text_atomic(args.out, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
