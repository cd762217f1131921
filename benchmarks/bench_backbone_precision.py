"""Kokoro's int8 graph against its float32 twin: build and load time, speed, and how far apart they sound.

    python benchmarks/bench_backbone_precision.py                      # 5 voices x 3 sentences
    python benchmarks/bench_backbone_precision.py --voices kumo --sentences 1 --repeats 1 --out /tmp/p.json

Why: the default precision of :meth:`Backbone.load` is to be chosen by measurement. Per voice and
sentence (BENCH_SENTENCES of bench_voice.py): the real-time factor of ``synthesize`` (best of
``--repeats``) for each precision; how many tokens round to a different number of frames; the
log-mel distance (nats, :func:`emosynth.evaluation.log_mel_distance`) between the two decoders on
the same int8 prediction, and end to end where the frames agree; and each decoder's own floor,
its distance to itself with F0 x (1 + 1e-6) (the int8 decoder's dynamic quantization makes it
jump on tiny input changes). Load times are of the first load in this process; the float build
is timed into a temporary cache folder, so the real cache is left as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
from bench_voice import BENCH_SENTENCES

from emosynth.evaluation import log_mel_distance
from emosynth.io import write_text_atomic
from emosynth.voice import SAMPLE_RATE_HZ, Backbone, text_to_chunks
from emosynth.voice.backbone import PRECISIONS
from emosynth.voice.float_graph import float_model_file
from emosynth.voice.voices import voice_catalog


def time_build() -> dict:
    """First-use build of the float twin into an empty cache folder (removed afterwards)."""
    old = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp
        try:
            t = time.perf_counter()
            path = float_model_file()
            seconds = time.perf_counter() - t
            size = path.stat().st_size
        finally:
            if old is None:
                del os.environ["XDG_CACHE_HOME"]
            else:
                os.environ["XDG_CACHE_HOME"] = old
    return {"build_s": round(seconds, 2), "bytes": size}


def load_all(threads: int) -> tuple[dict[str, Backbone], dict[str, float]]:
    float_model_file()  # a missing cache would otherwise count as load time
    backbones, seconds = {}, {}
    for precision in PRECISIONS:
        t = time.perf_counter()
        backbones[precision] = Backbone.load(threads=threads, precision=precision)
        seconds[precision] = round(time.perf_counter() - t, 2)
    return backbones, seconds


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def nudged_floor(backbone: Backbone, prediction) -> float:
    """Distance of the decoder's audio to itself with F0 x (1 + 1e-6)."""
    nudged = prediction.with_contours(f0_hz=prediction.f0_hz * (1 + 1e-6))
    return log_mel_distance(backbone.decode(prediction).audio, backbone.decode(nudged).audio,
                            sample_rate_hz=SAMPLE_RATE_HZ)


def measure(backbones: dict[str, Backbone], voice: str, pack: str, text: str, repeats: int) -> dict:
    chunk = text_to_chunks(text)[0]
    int8, twin = backbones["int8"], backbones["float"]
    p8, pf = int8.predict(chunk.token_ids, pack), twin.predict(chunk.token_ids, pack)
    audio8 = int8.decode(p8).audio
    audio_s = len(audio8) / SAMPLE_RATE_HZ
    flips = int(np.count_nonzero(p8.frames_per_token != pf.frames_per_token))
    row = {"voice": voice, "text": text, "tokens": chunk.n_tokens, "audio_s": round(audio_s, 2),
           "frames_flipped_tokens": flips}
    for precision, backbone in backbones.items():
        seconds = best_time(lambda b=backbone: b.synthesize(chunk.token_ids, pack), repeats)
        row[f"rtf_{precision}"] = round(seconds / audio_s, 3)
    row["log_mel_same_prediction"] = round(log_mel_distance(
        audio8, twin.decode(p8).audio, sample_rate_hz=SAMPLE_RATE_HZ), 4)
    row["log_mel_end_to_end"] = None if flips else round(log_mel_distance(
        audio8, twin.decode(pf).audio, sample_rate_hz=SAMPLE_RATE_HZ), 4)
    for precision, backbone in backbones.items():
        row[f"floor_{precision}"] = round(nudged_floor(backbone, p8), 4)
    return row


def summary(rows: list[dict]) -> dict:
    def stat(key: str) -> dict | None:
        values = [r[key] for r in rows if r[key] is not None]
        return {"median": round(statistics.median(values), 4), "max": round(max(values), 4),
                "n": len(values)} if values else None
    keys = [*(f"rtf_{p}" for p in PRECISIONS), "log_mel_same_prediction", "log_mel_end_to_end",
            *(f"floor_{p}" for p in PRECISIONS), "frames_flipped_tokens"]
    return {k: stat(k) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", nargs="+", default=list(voice_catalog()), help="catalogue names")
    parser.add_argument("--sentences", type=int, default=3, help="use the first N of BENCH_SENTENCES")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case; the best counts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results/backbone_precision.json")
    args = parser.parse_args()
    catalog = voice_catalog()
    build = time_build()
    backbones, load_s = load_all(args.threads)
    rows = []
    for voice in args.voices:
        for text in BENCH_SENTENCES[:args.sentences]:
            rows.append(measure(backbones, voice, catalog[voice].pack, text, args.repeats))
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "threads": args.threads, "processor": platform.processor(),
                    "onnxruntime": onnxruntime.__version__},
        "float_build": build, "load_s": load_s, "repeats": args.repeats,
        "summary": summary(rows), "cases": rows,
    }
    print(json.dumps({k: result[k] for k in ("float_build", "load_s", "summary")}, indent=1))
    write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
