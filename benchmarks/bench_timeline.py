"""Measure the emotion timeline: emotion diarization error rate (EDER), speed and memory.

    python benchmarks/bench_timeline.py --train-without-held-out /tmp/ser_without_heldout.npz \\
        --data ../shared/data/ravdess --data ../shared/data/nemo --speakers ravdess-17,ravdess-18,nemo-KD0

The weights must come from a recognizer trained WITHOUT the held-out speakers.
``--train-without-held-out FILE`` fits them first (the shipped recipe: same feature set, perturbed
copies and C selection, on every other speaker; features come from the cache `train-ser` fills)
and records the speakers it was trained on; ``--weights FILE`` reads weights made elsewhere.
Figures from weights that heard the held-out speakers (the shipped ones are trained on every
speaker) are development-only and the result file says so.

Accuracy. For every held-out speaker, recordings are built by joining 3-5 of that speaker's clips
of different emotions, each trimmed to its speech, with 0.2-0.6 s pauses between them and quiet
noise (-70 dBFS) under the whole recording; the first recording of each speaker also has a 5 s
silence in the middle. The reference gives
each clip's emotion from the midpoint of the pause before it to the midpoint of the pause after it
(a short pause belongs to the speech around it), and the long silence to no emotion. EDER
(emosynth.evaluation.diarization, Wang et al. 2023) is computed per recording and averaged; it is
reported with neutral as an emotion of its own and, as in Wang et al., with neutral as no emotion.
A small grid of window, hop, smoothing and speech-share settings is scored on the same recordings
(the windows are read once per window/hop pair; smoothing is cheap), so the chosen defaults can be
seen against the alternatives.

Speed and memory. The recordings are looped into one long 48 kHz stereo WAV (written in blocks)
and streamed through ``Recognizer.timeline``: real-time factor = processing time / audio duration;
memory is the peak of Python's traced allocations (numpy included) during the call, measured for
two lengths to show it does not grow with the file, and the process's peak resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from emosynth.audio import Audio, load_audio
from emosynth.evaluation.diarization import emotion_diarization_errors
from emosynth.io import write_text_atomic
from emosynth.recognizer import Recognizer, default_weights_path
from emosynth.recognizer.corpus import LabelledClip, read_corpora
from emosynth.recognizer.timeline import (
    TimelineSettings,
    WindowReadings,
    build_timeline,
    frame_levels_db,
    read_windows,
    speech_frames,
)
from emosynth.recognizer.train import fit_on_speakers

RATE = 16_000
HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
LONG_SILENCE_S = 5.0
NOISE_RMS = 10 ** (-70 / 20)  # a quiet room's hiss under the whole recording, -70 dBFS


@dataclass(frozen=True)
class Recording:
    """A joined recording with its reference segments (start, end, emotion)."""

    name: str
    speaker: str
    samples: np.ndarray
    reference: list[tuple[float, float, str]]
    long_silence: tuple[float, float] | None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE

    @property
    def audio(self) -> Audio:
        return Audio(self.samples, RATE)


def trimmed(clip: LabelledClip, rng: np.random.Generator) -> np.ndarray:
    """The clip at 16 kHz cut to its speech (plus 50 ms either side), speech being what the
    timeline's own detector finds in it under the hiss the recordings get."""
    x = load_audio(clip.path, target_rate_hz=RATE).samples
    hiss = (rng.standard_normal(len(x)) * NOISE_RMS).astype(np.float32)
    speech = np.flatnonzero(speech_frames(frame_levels_db(x + hiss)))
    if len(speech) == 0:
        return x
    frame = int(0.02 * RATE)
    return x[max(0, speech[0] * frame - 800):min(len(x), (speech[-1] + 1) * frame + 800)]


def build_recordings(clips: list[LabelledClip], speakers: list[str], per_speaker: int, seed: int,
                     skip: set[Path]) -> list[Recording]:
    rng = np.random.default_rng(seed)
    out = []
    for speaker in speakers:
        by_emotion: dict[str, list[LabelledClip]] = {}
        for c in clips:
            if c.speaker == speaker and c.path not in skip:
                by_emotion.setdefault(c.emotion, []).append(c)
        if len(by_emotion) < 3:
            raise SystemExit(f"speaker {speaker}: clips of {len(by_emotion)} emotions found; need 3 or more")
        emotions = sorted(by_emotion)
        for r in range(per_speaker):
            chosen = rng.choice(emotions, size=min(len(emotions), int(rng.integers(3, 6))), replace=False)
            pieces, spans, silence = [], [], None
            t = 0.0
            for i, emotion in enumerate(chosen):
                if i:
                    pause = LONG_SILENCE_S if (r == 0 and i == len(chosen) // 2) else float(rng.uniform(0.2, 0.6))
                    pieces.append(np.zeros(int(pause * RATE), dtype=np.float32))
                    if pause == LONG_SILENCE_S:
                        silence = (t, t + pause)
                    spans.append(("pause", t, t + pause))
                    t += pause
                x = trimmed(by_emotion[emotion][int(rng.integers(len(by_emotion[emotion])))], rng)
                pieces.append(x)
                spans.append((str(emotion), t, t + len(x) / RATE))
                t += len(x) / RATE
            joined = np.concatenate(pieces)
            joined += (rng.standard_normal(len(joined)) * NOISE_RMS).astype(np.float32)  # one floor throughout
            out.append(Recording(f"{speaker}-{r}", speaker, joined, _reference(spans, t), silence))
    return out


def _reference(spans: list[tuple[str, float, float]], duration: float) -> list[tuple[float, float, str]]:
    """Each clip from the midpoint of the pause before to the midpoint of the pause after; the
    long silence is left out (no emotion)."""
    ref = []
    for i, (label, a, b) in enumerate(spans):
        if label == "pause":
            continue
        start = 0.0 if i == 0 else _pause_edge(spans[i - 1], after=True)
        end = duration if i == len(spans) - 1 else _pause_edge(spans[i + 1], after=False)
        ref.append((start, end, label))
    return ref


def _pause_edge(pause: tuple[str, float, float], *, after: bool) -> float:
    _, a, b = pause
    if b - a >= LONG_SILENCE_S:  # the long silence is nobody's
        return b if after else a
    return (a + b) / 2


def score(recordings: list[Recording], readings: list[WindowReadings], settings: TimelineSettings) -> dict:
    """Mean EDER (neutral an emotion; neutral as none) and the long silences' share marked silence."""
    eder, eder_paper, silence_found = [], [], []
    totals = dict.fromkeys(("missed_s", "false_alarm_s", "overlap_s", "confusion_s", "duration_s"), 0.0)
    for rec, reading in zip(recordings, readings):
        timeline = build_timeline(reading, settings)
        errors = emotion_diarization_errors(rec.reference, timeline.segments, rec.duration_s)
        eder.append(errors.eder)
        for key in totals:
            totals[key] += getattr(errors, key)
        eder_paper.append(emotion_diarization_errors(rec.reference, timeline.segments, rec.duration_s,
                                                     no_emotion=("silence", "neutral")).eder)
        if rec.long_silence:
            a, b = rec.long_silence
            marked = sum(max(0.0, min(b, s.end_s) - max(a, s.start_s))
                         for s in timeline.segments if s.label == "silence")
            silence_found.append(marked / (b - a))
    return {"eder_mean": round(statistics.mean(eder), 4), "eder_sd": round(statistics.pstdev(eder), 4),
            "eder_neutral_as_no_emotion_mean": round(statistics.mean(eder_paper), 4),
            "error_seconds": {k: round(v, 2) for k, v in totals.items()},
            "long_silence_marked_share_mean": round(statistics.mean(silence_found), 4) if silence_found else None,
            "per_speaker_eder": {s: round(statistics.mean([e for e, r in zip(eder, recordings) if r.speaker == s]), 4)
                                 for s in dict.fromkeys(r.speaker for r in recordings)}}


def grid(recognizer: Recognizer, recordings: list[Recording], quick: bool) -> tuple[list[dict], dict]:
    """EDER for each setting of the grid; also returns the readings of the default window/hop."""
    default = TimelineSettings()
    pairs = [(2.0, 0.5)] if quick else [(1.5, 0.5), (2.0, 0.5), (3.0, 0.5), (2.0, 1.0), (3.0, 1.0)]
    smoothings = [("none", {}), *[("average", {"average_windows": k}) for k in (3, 5, 9)],
                  *[("viterbi", {"switch_penalty": p}) for p in (1.0, 2.0, 4.0, 8.0, 16.0)]]
    rows, kept = [], {}
    for window_s, hop_s in pairs:
        start = time.perf_counter()
        readings = [read_windows(r.audio, recognizer, window_s=window_s, hop_s=hop_s) for r in recordings]
        read_s = time.perf_counter() - start
        if (window_s, hop_s) == (default.window_s, default.hop_s):
            kept = {"readings": readings}
        for smoothing, extra in smoothings:
            for share in (0.25, 0.5, 0.75):
                settings = TimelineSettings(window_s=window_s, hop_s=hop_s, smoothing=smoothing,
                                            min_speech_share=share, **extra)
                result = score(recordings, readings, settings)
                rows.append({"settings": asdict(settings), "eder_mean": result["eder_mean"],
                             "eder_neutral_as_no_emotion_mean": result["eder_neutral_as_no_emotion_mean"],
                             "read_rtf": round(read_s / sum(r.duration_s for r in recordings), 4)})
        best = min(r["eder_mean"] for r in rows if r["settings"]["window_s"] == window_s
                   and r["settings"]["hop_s"] == hop_s)
        print(f"window {window_s} s hop {hop_s} s: best EDER {best:.3f} (reading took {read_s:.0f} s)", flush=True)
    return rows, kept


def long_file_speed(recognizer: Recognizer, recordings: list[Recording], minutes: list[float]) -> list[dict]:
    """Stream looped recordings of each length from a 48 kHz stereo WAV through the timeline."""
    from scipy.signal import resample_poly

    loop48 = resample_poly(np.concatenate([r.samples for r in recordings]), 3, 1).astype(np.float32)
    chunk = 10 * 48_000  # written 10 s at a time, so making the file does not inflate the peak RSS
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in minutes:
            path = Path(tmp) / f"long_{m:g}min.wav"
            n_total, written = int(m * 60 * 48_000), 0
            with sf.SoundFile(str(path), "w", samplerate=48_000, channels=2, subtype="PCM_16") as fh:
                while written < n_total:
                    at = written % len(loop48)
                    part = loop48[at:at + min(chunk, n_total - written)]
                    fh.write(np.stack([part, part * 0.8], axis=1))
                    written += len(part)
            tracemalloc.start()
            start = time.perf_counter()
            timeline = recognizer.timeline(path, progress=True)
            elapsed = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out.append({"minutes": m, "file_mib": round(path.stat().st_size / 2**20, 1),
                        "whole_file_as_float32_mib": round(n_total * 2 * 4 / 2**20, 1),
                        "seconds": round(elapsed, 1), "real_time_factor": round(elapsed / (m * 60), 4),
                        "traced_peak_mib": round(peak / 2**20, 2), "segments": len(timeline.segments),
                        # the whole process's peak so far: models, the benchmark's recordings and readings too
                        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
            print(json.dumps(out[-1]), flush=True)
    return out


def trained_speakers(info: dict) -> set[str] | None:
    """The speakers the weights were trained on: their own list, else their cross-validation folds
    (every training speaker is held out in one fold); None when the weights record neither."""
    if info.get("training_speakers"):
        return set(info["training_speakers"])
    folds = (info.get("cross_validation") or {}).get("folds")
    return {s for fold in folds for s in fold} if folds else None


def train_without(clips: list[LabelledClip], held_out: set[str], out: Path, seed: int) -> Path:
    """Fit the shipped recipe on every speaker but ``held_out`` and save the weights to ``out``."""
    speakers = {c.speaker for c in clips} - held_out
    fit_on_speakers(clips, speakers, seed=seed, progress=True,
                    note=f"trained by bench_timeline.py without {sorted(held_out)}").save(out)
    print(f"weights fitted on {len(speakers)} speakers (not {sorted(held_out)}) written to {out}", flush=True)
    return out


def _note(development_only: bool, checked: bool) -> str:
    if development_only:
        return ("development figures, not for the docs: the weights were (or may have been) trained on the "
                "held-out speakers")
    if checked:
        return "held out: the weights' cross-validation record lists none of the held-out speakers"
    return "the weights record no speakers; valid only if they were trained without the held-out speakers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None,
                        help="Recognizer weights trained without the held-out speakers (default: the shipped "
                             "ones, which makes every figure development-only).")
    parser.add_argument("--train-without-held-out", type=Path, default=None, metavar="FILE",
                        help="Fit weights on every speaker but the held-out ones, save them to FILE and use them.")
    parser.add_argument("--data", type=Path, action="append", default=None,
                        help="Corpus folder (repeat); default: ../shared/data/ravdess and ../shared/data/nemo.")
    parser.add_argument("--speakers", default="ravdess-17,ravdess-18,nemo-KD0",
                        help="Held-out speakers, comma-separated.")
    parser.add_argument("--per-speaker", type=int, default=16, help="Joined recordings per speaker.")
    parser.add_argument("--long-minutes", default="2,10", help="Lengths of the long file, comma-separated minutes.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="3 recordings per speaker, only the default window/hop, long files of 1 and 3 minutes.")
    parser.add_argument("--development", action="store_true",
                        help="Mark the figures development-only (weights that may have heard the held-out speakers).")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "timeline.json")
    args = parser.parse_args()
    if args.quick:
        args.per_speaker, args.long_minutes = min(args.per_speaker, 3), "1,3"

    began = time.perf_counter()
    folders = args.data or [p for p in (SHARED / "ravdess", SHARED / "nemo") if p.is_dir()]
    clips = read_corpora(folders)
    speakers = [s.strip() for s in args.speakers.split(",") if s.strip()]
    unknown = sorted(set(speakers) - {c.speaker for c in clips})
    if unknown:
        raise SystemExit(f"no clips of {unknown} under {[str(f) for f in folders]}")
    if args.train_without_held_out:
        args.weights = train_without(clips, set(speakers), args.train_without_held_out, args.seed)
    recognizer = Recognizer.load(args.weights)
    shipped = args.weights is None or Path(args.weights).resolve() == default_weights_path().resolve()
    heard = trained_speakers(recognizer.training_info)
    leaked = sorted(set(speakers) & heard) if heard is not None else None
    development_only = shipped or args.development or bool(leaked)
    # Two neutral clips of each speaker are kept out of the recordings to serve as its reference.
    neutral = {s: [c for c in clips if c.speaker == s and c.emotion == "neutral"][:2] for s in speakers}
    recordings = build_recordings(clips, speakers, args.per_speaker, args.seed,
                                  skip={c.path for refs in neutral.values() for c in refs})
    print(f"{len(recordings)} recordings, {sum(r.duration_s for r in recordings):.0f} s of audio", flush=True)

    rows, kept = grid(recognizer, recordings, args.quick)
    default = score(recordings, kept["readings"], TimelineSettings())
    print(f"default settings: EDER {default['eder_mean']:.3f}", flush=True)
    with_reference = None
    if all(len(v) for v in neutral.values()):
        references = {s: recognizer.reference_from_files([c.path for c in v]) for s, v in neutral.items()}
        readings = [read_windows(r.audio, recognizer, reference=references[r.speaker]) for r in recordings]
        with_reference = score(recordings, readings, TimelineSettings())
        print(f"with a neutral reference of the speaker: EDER {with_reference['eder_mean']:.3f}", flush=True)
    speed = long_file_speed(recognizer, recordings, [float(m) for m in args.long_minutes.split(",")])
    record = {
        "development_only": development_only,
        "note": _note(development_only, heard is not None),
        "held_out_speakers_in_training": leaked,
        "weights": str(args.weights or default_weights_path()),
        "weights_info": {k: v for k, v in recognizer.training_info.items() if k in ("note", "corpus", "speakers",
                                                                                    "n_clips", "n_speakers")},
        "held_out_speakers": speakers,
        "recordings": {"n": len(recordings), "audio_seconds": round(sum(r.duration_s for r in recordings), 1),
                       "clips_per_recording": "3-5, different emotions, one speaker",
                       "pauses_s": [0.2, 0.6], "long_silence_s": LONG_SILENCE_S, "seed": args.seed},
        "default_settings": asdict(TimelineSettings()),
        "default": default,
        "default_with_neutral_reference": with_reference,
        "grid": sorted(rows, key=lambda r: r["eder_mean"]),
        "long_file": speed,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "seconds": round(time.perf_counter() - began, 1),
    }
    write_text_atomic(args.out, json.dumps(record, indent=1) + "\n")
    shown = ("development_only", "default", "default_with_neutral_reference")
    print(json.dumps({k: record[k] for k in shown}, indent=1))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
