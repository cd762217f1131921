"""How far human emotion moves a speaker embedding: the yardstick for the voices' speaker limit.

``fit_voice`` keeps an emotion's alpha only while resemblyzer's similarity between a voice's
emotional and neutral renditions of the same sentence stays >= 0.80 (the issue's target). This
measures the same quantity on people: every RAVDESS actor's emotional take of a statement against
their neutral take of the same statement and repetition, by emotion and intensity, beside two
baselines of the same actor in the same (neutral) state: the other repetition of the statement,
and the other statement.

    python benchmarks/human_speaker_similarity.py   # writes benchmarks/results/human_speaker_similarity.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from emosynth.audio import load_audio, prepare_array
from emosynth.evaluation.speaker import SpeakerEncoder, cosine_similarity
from emosynth.io import write_text_atomic
from emosynth.profiles import parse_ravdess_name

LIMIT = 0.80


def summary(values: list[float]) -> dict:
    x = np.asarray(values)
    return {"mean": round(float(x.mean()), 3), "median": round(float(np.median(x)), 3),
            "share_below_limit": round(float(np.mean(x < LIMIT)), 3), "n": len(x)}


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data" / "ravdess")
    parser.add_argument("--out", type=Path, default=here / "results" / "human_speaker_similarity.json")
    args = parser.parse_args()

    encoder, cache = SpeakerEncoder(), {}

    def embedding(path: Path) -> np.ndarray:
        if path not in cache:
            clip = load_audio(path)
            cache[path] = encoder.embed(prepare_array(clip.samples, clip.sample_rate_hz, target_rate_hz=16_000).samples)
        return cache[path]

    emotional, same_state = defaultdict(list), defaultdict(list)
    actors = sorted(args.data.glob("Actor_*"))
    if not actors:
        raise SystemExit(f"{args.data}: no Actor_NN folders (RAVDESS)")
    for folder in actors:
        # (emotion, intensity, statement, repetition) -> file; calm and other names left out
        takes = {(n.emotion, n.intensity, n.statement, n.repetition): f for f in sorted(folder.iterdir())
                 if (n := parse_ravdess_name(f)) is not None and n.emotion != "calm"}

        def neutral(statement: int, repetition: int) -> Path | None:
            return takes.get(("neutral", "normal", statement, repetition))

        for (emotion, intensity, statement, repetition), path in takes.items():
            reference = neutral(statement, repetition)
            if emotion != "neutral" and reference is not None:
                emotional[f"{emotion} ({intensity})"].append(cosine_similarity(embedding(path), embedding(reference)))
        for statement in (1, 2):
            first, second = neutral(statement, 1), neutral(statement, 2)
            if first and second:
                same_state["neutral, other repetition"].append(cosine_similarity(embedding(first), embedding(second)))
        first, second = neutral(1, 1), neutral(2, 1)
        if first and second:
            same_state["neutral, other statement"].append(cosine_similarity(embedding(first), embedding(second)))
    record = {
        "what": "resemblyzer cosine similarity to the same actor's neutral take (RAVDESS, 16 kHz)",
        "limit_in_fit_voice": LIMIT, "actors": len(actors),
        "baselines": {k: summary(v) for k, v in same_state.items()},
        "emotional_vs_neutral": {k: summary(v) for k, v in sorted(emotional.items())},
    }
    write_text_atomic(args.out, json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
