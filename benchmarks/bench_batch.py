"""Batch generation: throughput with 1 and 2 workers, memory per worker, and the use case itself.

    python benchmarks/bench_batch.py                 # both parts (about 25 minutes on 2 cores)
    python benchmarks/bench_batch.py --only throughput
    python benchmarks/bench_batch.py --only ser      # needs ../shared/data/ravdess
    python benchmarks/bench_batch.py --only speaker  # needs ../shared/data/ravdess and emosynth[speaker]

Throughput: `emosynth batch` run as a user runs it (a fresh process, models loaded inside the
timing) on 32 synthesised clips and on 32 augmented recordings (16 x 2 emotions), with --workers 1 and 2. Memory is
the largest resident set of any process of the run (the worker, or the main process when one
worker runs in it).

Use case: the recognizer (the shipped recipe's Whisper features, no perturbed copies, logistic regression, C chosen by an inner
speaker-grouped CV on the training speakers only) is trained on RAVDESS actors 1-14 and tested on
actors 15-20, whom nothing generated ever comes from: once on the real training clips alone, once
with emosynth's augmented variants of the training actors' neutral clips added, once with
emosynth's synthetic speech (5 voices) added. Unweighted accuracy (UA) on the held-out actors,
both recognizer modes (plain; speaker-normalised, read against the speaker's neutral).

Speaker: the neutral clips of actors 15-20 (statements 1 and 2, first repetition) moved toward
every primary, as actors move (full pitch change) and with ``keep_speaker=0.85``: per emotion, the
speaker similarity to the recording (mean, 10th percentile, share >= 0.85) and the share of the
pitch change kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "batch.json"
RAVDESS = ROOT.parent / "shared" / "data" / "ravdess"
TRAIN_ACTORS = range(1, 15)
TEST_ACTORS = range(15, 21)

SYNTH_RECIPE = """\
name: bench-synth
seed: 1
texts: {builtin: neutral-en}
voices: [kumo]
emotions: {neutral: true, primaries: [joy, anger, sadness], intensities: [1.0]}
per_condition: 8
output: {format: flac, sample_rate: 16000}
"""


def _timed_cli(args: list[str]) -> tuple[float, float]:
    """Wall seconds and the peak RSS (MiB) of the largest process of one CLI run, run in a fresh
    interpreter so earlier runs' memory does not count."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "emosynth", *args],
                         capture_output=True, text=True, check=True).stdout.split()
    if out[2] != "0":
        raise RuntimeError(f"emosynth {' '.join(args)} failed")
    return float(out[0]), int(out[1]) / 1024


def throughput() -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recipe = tmp / "synth.yaml"
        recipe.write_text(SYNTH_RECIPE)
        source = tmp / "recordings" / "kumo"  # recordings to augment: 16 neutral clips of a voice
        source.mkdir(parents=True)
        from emosynth import Synthesizer
        from emosynth.batch import load_recipe, plan_items

        synth = Synthesizer("kumo")
        texts = load_recipe(recipe).texts
        for i, text in enumerate(texts[20:36]):
            synth.say(text, score=False).save(source / f"take{i}.flac")
        n_synth = len(plan_items(load_recipe(recipe)))
        jobs = {
            "synthesis": (["batch", str(recipe)], n_synth),
            "augmentation": (["augment", str(source.parent), None, "--emotions", "anger sadness"], 32),
        }
        for job, (args, n) in jobs.items():
            for workers in (1, 2):
                out = tmp / f"{job}-{workers}"
                argv = [a if a is not None else str(out) for a in args]
                argv += ["--workers", str(workers)] + (["--out", str(out)] if job == "synthesis" else [])
                seconds, rss = _timed_cli(argv)
                results.setdefault(job, {})[f"workers_{workers}"] = {
                    "clips": n, "seconds": round(seconds, 1), "clips_per_minute": round(60 * n / seconds, 1),
                    "peak_rss_mib_per_process": round(rss)}
                print(job, workers, results[job][f"workers_{workers}"], flush=True)
            w = results[job]
            w["scaling_2_over_1"] = round(w["workers_2"]["clips_per_minute"] / w["workers_1"]["clips_per_minute"], 2)
    return results


def _labelled(folder: Path, speaker_of) -> list:
    from emosynth.recognizer.corpus import LabelledClip

    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    return [LabelledClip(path=folder / r["file_name"], emotion=r["target"], speaker=speaker_of(r)) for r in rows]


def augmented_summary(folder: Path) -> dict:
    """Per target emotion: the recognizer's agreement and the speaker similarity of the variants."""
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    out = {}
    for target in sorted({r["target"] for r in rows}):
        group = [r for r in rows if r["target"] == target]
        sims = np.array([r["speaker_similarity"] for r in group if r["speaker_similarity"] is not None])
        out[target] = {"clips": len(group), "heard_as_target": round(float(np.mean([r["label"] == target for r in group])), 3)}
        if sims.size:
            out[target].update({"speaker_similarity_mean": round(float(sims.mean()), 3),
                                "speaker_similarity_p10": round(float(np.percentile(sims, 10)), 3),
                                "share_at_least_0.85": round(float(np.mean(sims >= 0.85)), 3)})
    return out


def ser_use_case(workers: int) -> dict:
    from emosynth.batch import parse_recipe, run_batch
    from emosynth.emotions import PRIMARY_EMOTIONS
    from emosynth.recognizer.corpus import read_corpus
    from emosynth.recognizer.dataset import extract_corpus_features
    from emosynth.recognizer.features import DEFAULT_FEATURE_SET
    from emosynth.recognizer.train import held_out

    if not RAVDESS.is_dir():
        raise SystemExit(f"the use case needs RAVDESS at {RAVDESS}")
    work = ROOT / "benchmarks" / ".work"  # generated data is kept between runs (resumable batches)
    neutral = sorted(p for p in RAVDESS.glob("Actor_*/03-01-01-*")
                     if int(p.parent.name.split("_")[1]) in TRAIN_ACTORS)
    links = work / "train-neutral"
    for p in neutral:
        link = links / p.parent.name / p.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(p)
    augment = parse_recipe(f"name: bench-augment\nrecordings: {links}\n"
                           "emotions: {primaries: all, intensities: [1.0]}\noutput: {sample_rate: 16000}\n",
                           where="augment recipe")
    synthetic = parse_recipe("name: bench-synthetic\ntexts: {builtin: neutral-en}\n"
                             "voices: [kumo, alpha, gongitsune, nezumi, tebukuro]\n"
                             "emotions: {neutral: true, primaries: all, intensities: [1.0]}\nper_condition: 6\n"
                             "output: {sample_rate: 16000}\n", where="synthetic recipe")
    t = time.perf_counter()
    run_batch(augment, work / "augmented", workers=workers, progress=True)
    run_batch(synthetic, work / "synthetic", workers=workers, progress=True)
    generation_s = time.perf_counter() - t

    real = read_corpus(RAVDESS)
    aug = _labelled(work / "augmented", lambda r: f"ravdess-{r['voice'].split('_')[1]}")  # the actor's own speaker id
    syn = _labelled(work / "synthetic", lambda r: f"voice-{r['voice']}")
    corpus = extract_corpus_features(real + aug + syn, feature_set=DEFAULT_FEATURE_SET, workers=workers, progress=True)
    kinds = np.array(["real"] * len(real) + ["augmented"] * len(aug) + ["synthetic"] * len(syn))
    if corpus.skipped:
        raise RuntimeError(f"unreadable clips: {corpus.skipped[:3]}")
    actor = np.array([int(s.split("-")[1]) if s.startswith("ravdess-") else 0 for s in corpus.speakers])
    test = np.flatnonzero((kinds == "real") & np.isin(actor, list(TEST_ACTORS)))
    base = (kinds == "real") & np.isin(actor, list(TRAIN_ACTORS))
    settings = {"real only": base, "real + augmented": base | (kinds == "augmented"),
                "real + synthetic": base | (kinds == "synthetic")}
    out = {"train_actors": f"{TRAIN_ACTORS.start}-{TRAIN_ACTORS.stop - 1}",
           "test_actors": f"{TEST_ACTORS.start}-{TEST_ACTORS.stop - 1}",
           "clips": {"real_train": int(base.sum()), "real_test": int(len(test)),
                     "augmented": int((kinds == "augmented").sum()), "synthetic": int((kinds == "synthetic").sum())},
           "generation_seconds": round(generation_s, 1),
           "augmented_per_emotion": augmented_summary(work / "augmented"), "ua": {}}
    for name, rows in settings.items():
        out["ua"][name] = {}
        for mode in ("plain", "speaker"):
            r = held_out(corpus, np.flatnonzero(rows), test, mode=mode)
            out["ua"][name][mode] = {"ua": round(r.ua, 3), "c": r.c,
                                     "recall": {e: round(float(r.confusion[i, i] / max(1, r.confusion[i].sum())), 3)
                                                for i, e in enumerate(PRIMARY_EMOTIONS)}}
            print(name, mode, out["ua"][name][mode]["ua"], flush=True)
    return out


def speaker_kept(floor: float = 0.85) -> dict:
    """Speaker similarity of augmented variants with the full pitch change and with keep_speaker."""
    from emosynth.audio import load_audio, prepare_array
    from emosynth.augment import WORK_RATE_HZ, augment
    from emosynth.emotions import PRIMARY_EMOTIONS
    from emosynth.evaluation.speaker import SpeakerEncoder, cosine_similarity

    if not RAVDESS.is_dir():
        raise SystemExit(f"the speaker check needs RAVDESS at {RAVDESS}")
    clips = sorted(p for a in TEST_ACTORS for p in RAVDESS.glob(f"Actor_{a:02d}/03-01-01-01-0[12]-01-*"))
    encoder = SpeakerEncoder()

    def embed(x: np.ndarray) -> np.ndarray:
        return encoder.embed(prepare_array(x, WORK_RATE_HZ, target_rate_hz=16000).samples)

    sims: dict = {e: {"full": [], "kept": [], "share": []} for e in PRIMARY_EMOTIONS[1:]}
    for path in clips:
        x = load_audio(path, target_rate_hz=WORK_RATE_HZ).samples
        original = embed(x)
        for emotion, acc in sims.items():
            full = augment(x, WORK_RATE_HZ, emotion)
            kept = augment(x, WORK_RATE_HZ, emotion, keep_speaker=floor)
            acc["full"].append(cosine_similarity(original, embed(full.audio)))
            acc["kept"].append(kept.speaker_similarity)
            change = full.change
            acc["share"].append(kept.change.f0_shift_st / change.f0_shift_st if change.f0_shift_st else 1.0)
        print(path.name, flush=True)

    def summary(v: list) -> dict:
        a = np.array(v)
        return {"mean": round(float(a.mean()), 3), "p10": round(float(np.percentile(a, 10)), 3),
                "share_at_least_0.85": round(float(np.mean(a >= 0.85)), 3)}

    return {"clips": len(clips), "actors": f"{TEST_ACTORS.start}-{TEST_ACTORS.stop - 1}", "keep_speaker": floor,
            "per_emotion": {e: {"full_pitch_change": summary(acc["full"]), "keep_speaker": summary(acc["kept"]),
                                "pitch_share_kept_mean": round(float(np.mean(acc["share"])), 3)}
                            for e, acc in sims.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("throughput", "ser", "speaker"), default=None)
    parser.add_argument("--workers", type=int, default=2, help="workers for the use case's generation")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    command = "python benchmarks/bench_batch.py" + (f" --only {args.only}" if args.only else "")
    sections = {"throughput": ("throughput", throughput), "ser": ("ser_use_case", lambda: ser_use_case(args.workers)),
                "speaker": ("speaker_kept", speaker_kept)}
    results.pop("command", None)  # one command for the whole file misnamed the sections a later --only kept
    for option, (key, measure) in sections.items():
        if args.only in (None, option):
            results[key] = measure()
            results.setdefault("commands", {})[key] = command
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
