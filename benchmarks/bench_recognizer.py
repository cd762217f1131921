"""Reproduce the recognizer's cross-validated figures and measure its speed on this machine.

    python benchmarks/bench_recognizer.py --data ../shared/data/ravdess --out benchmarks/results/recognizer.json

Accuracy: 5-fold leave-actors-out cross-validation (the same code `emosynth train-ser` runs), for
both classifiers (no reference / neutral reference of the speaker). Speed: `Recognizer.score_file`
on clips of the corpus, features not cached, repeated to show the spread; real-time factor =
processing time / audio duration. Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from emosynth.audio import load_audio
from emosynth.evaluation import save_confusion_png
from emosynth.io import write_text_atomic
from emosynth.recognizer import Recognizer, read_corpus
from emosynth.recognizer.train import train_recognizer


def measure_speed(paths: list[Path], repeats: int) -> dict:
    recognizer = Recognizer.load()
    recognizer.score_file(paths[0])  # load the models outside the timing
    audio_s = sum(load_audio(p).duration_s for p in paths)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for p in paths:
            recognizer.score_file(p)
        runs.append(time.perf_counter() - start)
    per_run = [len(paths) / t for t in runs]
    return {
        "clips": len(paths),
        "audio_seconds": round(audio_s, 2),
        "repeats": repeats,
        "clips_per_second_mean": round(statistics.mean(per_run), 3),
        "clips_per_second_sd": round(statistics.stdev(per_run), 3) if repeats > 1 else 0.0,
        "real_time_factor_mean": round(statistics.mean(runs) / audio_s, 4),
        "real_time_factor_min": round(min(runs) / audio_s, 4),
        "real_time_factor_max": round(max(runs) / audio_s, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/ravdess")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results/recognizer.json")
    parser.add_argument("--plots", type=Path, default=Path(__file__).resolve().parents[1] / "docs",
                        help="Folder for the cross-validated confusion matrices as PNG.")
    parser.add_argument("--speed-clips", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    result = train_recognizer(args.data, progress=True)
    cv = result.cross_validation.to_dict()
    train_s = time.perf_counter() - start
    clips = read_corpus(args.data)
    speed = measure_speed([c.path for c in clips[:: max(1, len(clips) // args.speed_clips)]][: args.speed_clips],
                          args.repeats)
    record = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "cross_validation": cv,
        "train_seconds_including_cached_features": round(train_s, 1),
        "speed": speed,
    }
    write_text_atomic(args.out, json.dumps(record, indent=2) + "\n")
    titles = {"plain": "no reference", "speaker": "neutral reference of the speaker"}
    for mode in ("plain", "speaker"):
        save_confusion_png(cv[mode]["confusion"], cv["labels"], args.plots / f"recognizer_cv_{mode}.png",
                           title=f"RAVDESS leave-actors-out CV, {titles[mode]}: UA {cv[mode]['ua']:.3f}")
        print(f"{mode}: UA {cv[mode]['ua']:.3f} WA {cv[mode]['wa']:.3f} fold UA {cv[mode]['fold_ua']}")
    print(json.dumps(speed, indent=2))


if __name__ == "__main__":
    main()
