"""How human speakers change their voice from neutral to each emotion, measured on RAVDESS.

The voice's emotion controls and the speech augmenter are fitted to these numbers, so they say
how far real people move each prosodic cue, not how far a designer guessed they do.

Method, in three steps:

1. :func:`measure_clip` reads one clip into :class:`ProsodyMeasures`: F0 level, range and spread
   (WORLD's Harvest pitch tracker, or DIO + StoneMask, 5 ms frames), speaking duration and voiced-segment
   rate (energy VAD), loudness (RMS over active frames), spectral tilt (alpha ratio, Hammarberg
   index), harmonicity (autocorrelation HNR) and the voiced fraction.
2. :func:`measure_corpus` does that for every clip, in worker processes.
3. :func:`human_profiles` expresses each cue of each clip relative to the *same actor's neutral
   rendition of the same statement* (RAVDESS has fixed sentences, so the duration ratio is a
   tempo measure), averages those per actor, emotion and intensity, and aggregates over actors:
   mean, SD across actors, a t-based 95% confidence interval of the mean, and per-gender means.

Only RAVDESS ``neutral`` (emotion code 01) is the reference. ``calm`` (02) is left out here,
although :mod:`emosynth.recognizer.corpus` merges it into neutral for classification: calm is an
acted emotion of its own (RAVDESS records it at two intensities); measured with this module,
the 20 actors' calm is 2.9 dB softer (95% CI +-1.3), 1.24x longer (+-0.08) and 1.1 st narrower
in F0 range (+-0.9) than their neutral, so pooling it would make every emotion look louder and
faster than it is. The synthesizer's neutral is a plain reading, which RAVDESS neutral is.

``python -m emosynth.profiles --data ../shared/data/ravdess --out emosynth/data/human_prosody_profiles.json``
recomputes the shipped file. The numbers are derived from RAVDESS (Livingstone & Russo 2018),
licensed CC BY-NC-SA 4.0, and carry that licence.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.ndimage import binary_erosion
from scipy.signal import butter, sosfiltfilt
from scipy.stats import t as student_t

from .audio import load_audio, prepare_array
from .emotions import PRIMARY_EMOTIONS
from .errors import AudioError, CorpusError, EmosynthError, MissingExtraError, ModelError
from .io import write_text_atomic
from .recognizer.corpus import LabelledClip, read_corpus

__all__ = [
    "ProsodyMeasures",
    "CueDefinition",
    "CUES",
    "CueStats",
    "EmotionProfile",
    "CorpusMeasures",
    "RavdessName",
    "LEVELS",
    "PROFILE_EMOTIONS",
    "measure_clip",
    "measure_corpus",
    "parse_ravdess_name",
    "human_profiles",
    "neutral_baseline",
    "profiles_document",
    "profiles_from_document",
    "dumps_document",
    "measures_from_document",
    "load_profiles_document",
    "load_human_profiles",
    "format_profiles",
    "main",
]

# -- analysis settings (changing any of these changes the shipped numbers: bump SCHEMA) ------
SCHEMA = "emosynth-human-prosody-profiles/1"
FRAME_PERIOD_MS = 5.0
#: Pitch search range. Wide enough for male creak and for strong fear and surprise in female
#: voices (RAVDESS actresses reach about 600 Hz); errors outside it are rarer than inside.
F0_FLOOR_HZ = 60.0
F0_CEIL_HZ = 700.0
#: Rumble below this (breath on the microphone, handling) is removed before the energy VAD and
#: the level: in RAVDESS it otherwise starts "speech" hundreds of ms early in some clips.
HIGH_PASS_HZ = 80.0
#: Frames within this many dB of the clip's loudest frame are active. Chosen on RAVDESS neutral:
#: 30-35 dB made the two repetitions of a statement by one actor agree best in duration.
ACTIVE_RANGE_DB = 35.0
#: Active runs shorter than this are clicks or lip noise, not speech, for the speaking span.
MIN_ACTIVE_RUN_MS = 30.0
_LEVEL_WINDOW_MS = 20.0
_TRACKER_MARGIN_S = 0.1
_SPECTRUM_WINDOW_MS = 32.0
# HNR window length in pitch periods: on harmonic tones in white noise, 6 periods read the
# noise level within 0.5 dB from 100 to 300 Hz; 4.5 (Praat's periods per window, there of the
# *lowest* pitch, so much longer windows) gave errors of several dB at some F0s.
_HNR_PERIODS = 6.0
_MIN_VOICED_SEGMENT_FRAMES = 3  # 15 ms: shorter voiced blips are tracker noise
_EDGE_FRAMES = 2  # 10 ms at each end of a voiced run are not steady
#: Fewer voiced frames than this (0.1 s) is not enough speech to profile.
MIN_VOICED_FRAMES = 20
Tracker = Literal["harvest", "dio"]
TRACKERS: tuple[str, ...] = ("harvest", "dio")
#: Voiced frames further than this factor from the clip's median F0 are tracking errors.
OCTAVE_BAND = 2.0
MIN_SAMPLE_RATE_HZ = 10_000  # the tilt measures read energy up to 5 kHz
_ROUND_DECIMALS = 4

#: The six emotions profiled against neutral, in the shared vocabulary's order.
PROFILE_EMOTIONS: tuple[str, ...] = tuple(e for e in PRIMARY_EMOTIONS if e != "neutral")
#: Aggregation levels: both intensities together, then RAVDESS normal (01) and strong (02).
LEVELS: tuple[str, ...] = ("pooled", "normal", "strong")

_DATA_FILE = "human_prosody_profiles.json"
_LICENCE = "derived from RAVDESS, CC BY-NC-SA 4.0"
_CITATION = (
    "Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional Speech and "
    "Song (RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391"
)


# -- per-clip measures -----------------------------------------------------------------------
@dataclass(frozen=True)
class ProsodyMeasures:
    """Prosodic cues of one clip. Semitones (st) are re 100 Hz; dB levels are re full scale."""

    f0_median_hz: float  # median F0 over voiced frames
    f0_median_st: float  # the same median in semitones re 100 Hz
    f0_range_st: float  # 95th minus 5th percentile of F0, semitones
    f0_sd_st: float  # standard deviation of F0 in semitones
    duration_s: float  # centre of the first to centre of the last active frame (energy VAD), s
    voiced_segments_per_s: float  # voiced runs of >= 15 ms per second of speaking duration
    level_db: float  # RMS over active frames, dBFS (a full-scale sine is -3.01)
    alpha_ratio_db: float  # energy 1-5 kHz over 50-1000 Hz, dB, mean over voiced frames
    hammarberg_db: float  # strongest peak 0-2 kHz minus strongest 2-5 kHz, dB, mean over voiced
    hnr_db: float  # harmonics-to-noise ratio (autocorrelation), dB, mean over voiced frames
    voiced_fraction: float  # voiced frames / frames of the speaking span, 0..1

    def rounded(self, decimals: int = _ROUND_DECIMALS) -> ProsodyMeasures:
        """A copy with every number rounded, as the shipped file stores them."""
        return ProsodyMeasures(*(round(float(v), decimals) for v in self.as_tuple()))

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


MEASURE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProsodyMeasures))


def measure_clip(
    samples: np.ndarray, sample_rate_hz: int, *, tracker: Tracker = "harvest"
) -> ProsodyMeasures:
    """Prosodic cues of one utterance.

    ``samples``: shape (n,) or (n, channels), any numeric dtype scaled to [-1, 1]; the rate must
    be at least 10 kHz. ``tracker``: WORLD's ``"harvest"`` (the default, used for the shipped
    profiles; about 0.3 s a RAVDESS clip) or ``"dio"`` (DIO + StoneMask, about 5x faster, more
    voicing errors in shouted and breathy speech). Deterministic: the same samples give the
    same numbers.

    F0, tilt and HNR come from steadily voiced frames (10 ms in from each end of a voiced run);
    the voiced fraction and segment rate from all voiced frames.

    Raises :class:`AudioError` for audio :func:`emosynth.audio.prepare_array` refuses (empty,
    too short, silent, non-finite) and for clips with fewer than 20 steadily voiced frames.
    Raises :class:`MissingExtraError` when ``pyworld`` is not installed.
    """
    if tracker not in TRACKERS:
        raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}; got {tracker!r}")
    audio = prepare_array(samples, sample_rate_hz)
    fs = audio.sample_rate_hz
    if fs < MIN_SAMPLE_RATE_HZ:
        raise AudioError(f"prosody needs audio sampled at {MIN_SAMPLE_RATE_HZ} Hz or more, got {fs} Hz")
    x = audio.samples.astype(np.float64)

    # Energy VAD on a 5 ms grid over the whole clip: the speaking span and the level threshold.
    filtered = _high_pass(x, fs)
    hop = fs * FRAME_PERIOD_MS / 1000.0
    grid = np.round(np.arange(int(len(x) / hop) + 1) * hop).astype(np.int64)
    grid_level = _frame_levels_db(filtered, grid, fs)
    threshold_db = grid_level.max() - ACTIVE_RANGE_DB
    first, last = _speaking_span(grid_level > threshold_db)
    span_start, span_stop = int(grid[first]), int(grid[last])
    n_span = last - first + 1
    # Centre of the first to centre of the last active frame. A sharp onset or offset makes a
    # frame active as soon as its 20 ms window reaches it, so a tone reads up to 20 ms long.
    duration_s = (last - first) * FRAME_PERIOD_MS / 1000.0
    in_span_level = grid_level[first:last + 1]
    # Mean of power over active frames, not of dB: the level a listener hears is energy-weighted.
    mean_square = np.mean(np.power(10.0, in_span_level[in_span_level > threshold_db] / 10.0))

    # The pitch tracker reads the speaking span and 100 ms either side only: RAVDESS clips are
    # half silence, and Harvest's cost grows with the length it reads.
    margin = int(round(_TRACKER_MARGIN_S * fs))
    segment_start = max(0, span_start - margin)
    segment = np.ascontiguousarray(x[segment_start:span_stop + margin + 1])
    f0, times = _track_f0(segment, fs, tracker)
    centers = segment_start + np.round(times * fs).astype(np.int64)
    active = _frame_levels_db(filtered, centers, fs) > threshold_db
    voiced = (f0 > 0) & active & (centers >= span_start) & (centers <= span_stop)
    voiced &= _periodic_frames(segment, f0, times, fs)
    voiced &= _near_median(f0, voiced)
    # F0, tilt and HNR are read from steady frames only: the trackers swing for a frame or two
    # where voicing starts and stops (Harvest reads a 200 Hz onset as 121, 143, 163 Hz).
    steady = binary_erosion(voiced, structure=np.ones(2 * _EDGE_FRAMES + 1, dtype=bool))
    n_steady = int(steady.sum())
    if n_steady < MIN_VOICED_FRAMES:
        raise AudioError(
            f"only {n_steady} steadily voiced frames ({n_steady * FRAME_PERIOD_MS:.0f} ms) were found; "
            f"prosody needs at least {MIN_VOICED_FRAMES} ({MIN_VOICED_FRAMES * FRAME_PERIOD_MS:.0f} ms)"
        )

    f0_voiced = f0[steady]
    st = _semitones(f0_voiced)
    median_hz = float(np.median(f0_voiced))
    p5, p95 = np.percentile(st, [5.0, 95.0])
    alpha, hammarberg = _spectral_tilt_db(x, centers[steady], fs)
    return ProsodyMeasures(
        f0_median_hz=median_hz,
        f0_median_st=float(_semitones(np.array([median_hz]))[0]),
        f0_range_st=float(p95 - p5),
        f0_sd_st=float(np.std(st)),
        duration_s=duration_s,
        voiced_segments_per_s=len(_runs(voiced, _MIN_VOICED_SEGMENT_FRAMES)) / duration_s,
        level_db=float(10.0 * np.log10(mean_square)),
        alpha_ratio_db=alpha,
        hammarberg_db=hammarberg,
        hnr_db=_mean_hnr_db(x, centers[steady], f0_voiced, fs),
        voiced_fraction=min(1.0, int(voiced.sum()) / n_span),
    )


def _semitones(f0_hz: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(f0_hz / 100.0)


def _track_f0(x: np.ndarray, fs: int, tracker: Tracker) -> tuple[np.ndarray, np.ndarray]:
    """F0 in Hz per 5 ms frame (0 where none is found) and the frame times in s, shapes (T,)."""
    pw = _pyworld()
    if tracker == "harvest":
        return pw.harvest(x, fs, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=FRAME_PERIOD_MS)
    f0, times = pw.dio(x, fs, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=FRAME_PERIOD_MS)
    return pw.stonemask(x, f0, times, fs), times


def _periodic_frames(x: np.ndarray, f0: np.ndarray, times: np.ndarray, fs: int) -> np.ndarray:
    """Frames that D4C's voicing test (LoveTrain) calls periodic, shape (T,) bool.

    The trackers report F0 in some breath noise and voiceless consonants (DIO) or carry it
    across them (Harvest); D4C flags those frames as fully aperiodic (1 in every band).
    """
    ap = _pyworld().d4c(x, f0, times, fs)
    return ap[:, 0] < 0.5


def _near_median(f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Frames whose F0 lies within an octave of the clip's median voiced F0, shape (T,) bool.

    The trackers' remaining errors in RAVDESS are jumps to a fraction or multiple of the true
    F0 (DIO read 350 Hz as 70 Hz in a breathy onset); one utterance's own excursions rarely
    leave this band, and its median is set by the many frames tracked right.
    """
    if not voiced.any():
        return voiced
    median = np.median(f0[voiced])
    return (f0 >= median / OCTAVE_BAND) & (f0 <= median * OCTAVE_BAND)


def _pyworld() -> Any:
    try:
        import pyworld
    except ImportError:
        raise MissingExtraError("measuring prosody (pyworld pitch tracking)", "profiles") from None
    return pyworld


def _high_pass(x: np.ndarray, fs: int) -> np.ndarray:
    sos = butter(4, HIGH_PASS_HZ, btype="highpass", fs=fs, output="sos")
    return sosfiltfilt(sos, x)  # zero phase, so frame times stay aligned with the F0 track


def _frame_levels_db(x: np.ndarray, centers: np.ndarray, fs: int) -> np.ndarray:
    """Mean-square level in dB of a 20 ms rectangular window around each centre, shape (T,)."""
    win = max(1, int(round(_LEVEL_WINDOW_MS / 1000.0 * fs)))
    padded = np.pad(x, (win // 2, win))
    cumulative = np.concatenate([[0.0], np.cumsum(padded * padded)])
    mean_square = (cumulative[centers + win] - cumulative[centers]) / win
    return 10.0 * np.log10(np.maximum(mean_square, 1e-20))  # -200 dB stands for digital silence


def _runs(mask: np.ndarray, min_length: int) -> list[tuple[int, int]]:
    """(start, stop) of every run of True at least ``min_length`` long; stop is exclusive."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops) if b - a >= min_length]


def _speaking_span(active: np.ndarray) -> tuple[int, int]:
    """First and last frame (inclusive) of the active runs long enough to be speech."""
    min_frames = max(1, int(round(MIN_ACTIVE_RUN_MS / FRAME_PERIOD_MS)))
    runs = _runs(active, min_frames) or _runs(active, 1)  # a very short clip: take what there is
    return runs[0][0], runs[-1][1] - 1


def _frames(x: np.ndarray, centers: np.ndarray, length: int) -> np.ndarray:
    """Windows of ``length`` samples centred on ``centers`` (zero beyond the ends), (N, length)."""
    padded = np.pad(x, (length // 2, length))
    view = np.lib.stride_tricks.sliding_window_view(padded, length)
    return view[centers]


def _spectral_tilt_db(x: np.ndarray, centers: np.ndarray, fs: int) -> tuple[float, float]:
    """Alpha ratio and Hammarberg index in dB, each the mean over the frames at ``centers``.

    Signs follow eGeMAPS (Eyben et al. 2016): the alpha ratio rises and the Hammarberg index
    falls as the voice gets more pressed (flatter spectrum, more high-frequency energy).
    """
    n = 1 << int(math.ceil(math.log2(_SPECTRUM_WINDOW_MS / 1000.0 * fs)))
    power = np.abs(np.fft.rfft(_frames(x, centers, n) * np.hanning(n), axis=1)) ** 2 + 1e-20
    hz = np.fft.rfftfreq(n, 1.0 / fs)
    low = power[:, (hz >= 50) & (hz < 1000)].sum(axis=1)
    high = power[:, (hz >= 1000) & (hz <= 5000)].sum(axis=1)
    alpha = 10.0 * np.log10(high / low)
    peak_low = power[:, hz <= 2000].max(axis=1)
    peak_high = power[:, (hz > 2000) & (hz <= 5000)].max(axis=1)
    hammarberg = 10.0 * np.log10(peak_low / peak_high)
    return float(np.mean(alpha)), float(np.mean(hammarberg))


_AC_UPSAMPLING = 8  # autocorrelation read at 1/8-sample lags: integer lags miss the peak


def _autocorrelation(frames: np.ndarray, nfft: int) -> np.ndarray:
    """Autocorrelation of each row at lags 0, 1/8, 2/8, ... samples, shape (rows, 8 * nfft // 2).

    Zero-padding the power spectrum before the inverse transform is band-limited (sinc)
    interpolation of the autocorrelation, the interpolation Boersma (1993) asks for.
    """
    power = np.abs(np.fft.rfft(frames, nfft, axis=-1)) ** 2
    return np.fft.irfft(power, nfft * _AC_UPSAMPLING, axis=-1)[..., : nfft * _AC_UPSAMPLING // 2] * _AC_UPSAMPLING


@lru_cache(maxsize=1024)
def _hann_autocorrelation(n: int, nfft: int) -> np.ndarray:
    """Normalised autocorrelation of an n-point Hann window at the lags of :func:`_autocorrelation`."""
    r = _autocorrelation(np.hanning(n), nfft)
    return r / r[0]


def _mean_hnr_db(x: np.ndarray, centers: np.ndarray, f0: np.ndarray, fs: int) -> float:
    """Mean over frames of the autocorrelation HNR (Boersma 1993), dB.

    Each frame is 6 pitch periods long (so a glide blurs it as little as possible), Hann
    windowed; its autocorrelation is divided by the window's, and the peak ``r`` within 20% of
    the period the tracker found gives HNR = 10 log10(r / (1 - r)). ``r`` is capped at 1 - 1e-5 (50 dB).
    """
    longest = int(math.ceil(_HNR_PERIODS * fs / (F0_FLOOR_HZ / 2)))  # StoneMask may refine below the floor
    padded = np.pad(x, (longest, longest))
    values = []
    for center, hz in zip(centers, f0):
        period = fs / hz
        n = int(round(_HNR_PERIODS * period))
        start = int(center) + longest - n // 2
        segment = padded[start:start + n]
        segment = (segment - segment.mean()) * np.hanning(n)
        nfft = 1 << int(math.ceil(math.log2(2 * n)))
        lo = int(period / 1.2 * _AC_UPSAMPLING)
        hi = int(math.ceil(period * 1.2 * _AC_UPSAMPLING)) + 1
        ac = _autocorrelation(segment, nfft)
        if ac[0] <= 0:
            continue
        r = ac[lo:hi] / ac[0] / _hann_autocorrelation(n, nfft)[lo:hi]
        k = int(np.argmax(r))
        peak = _parabolic_peak(r[k - 1], r[k], r[k + 1]) if 0 < k < len(r) - 1 else float(r[k])
        peak = min(max(peak, 1e-5), 1.0 - 1e-5)
        values.append(10.0 * math.log10(peak / (1.0 - peak)))
    return float(np.mean(values)) if values else float("nan")


def _parabolic_peak(left: float, middle: float, right: float) -> float:
    """Height of the parabola through three equally spaced points, at its vertex."""
    curvature = left - 2.0 * middle + right
    if curvature >= 0:
        return middle
    offset = 0.5 * (left - right) / curvature
    return middle - 0.25 * (left - right) * offset


# -- corpus measurement ----------------------------------------------------------------------
@dataclass(frozen=True)
class CorpusMeasures:
    """Measures of the clips that could be read, aligned with ``clips``, and the ones that could not."""

    clips: tuple[LabelledClip, ...]
    measures: tuple[ProsodyMeasures, ...]
    skipped: tuple[str, ...] = ()  # "path: reason"
    tracker: str = "harvest"  # the pitch tracker that measured them


def _measure_file(job: tuple[str, Tracker]) -> ProsodyMeasures | str:
    path, tracker = job
    try:
        audio = load_audio(path)
        return measure_clip(audio.samples, audio.sample_rate_hz, tracker=tracker)
    except EmosynthError as exc:
        return f"{path}: {exc}"


def measure_corpus(
    clips: Sequence[LabelledClip],
    *,
    workers: int | None = None,
    progress: bool = False,
    tracker: Tracker = "harvest",
) -> CorpusMeasures:
    """:func:`measure_clip` of every clip, in ``workers`` processes (default: one per core).

    Unreadable clips are listed in ``skipped`` rather than stopping the run; raises
    :class:`CorpusError` when none could be measured.
    """
    from tqdm import tqdm

    if tracker not in TRACKERS:
        raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}; got {tracker!r}")
    jobs = [(str(c.path), tracker) for c in clips]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = list(tqdm(pool.map(_measure_file, jobs, chunksize=8), total=len(jobs),
                            desc="prosody", unit="clip", disable=not progress))
    good = [i for i, r in enumerate(results) if isinstance(r, ProsodyMeasures)]
    if clips and not good:
        raise CorpusError(f"no clip could be measured; first error: {results[0]}")
    return CorpusMeasures(
        clips=tuple(clips[i] for i in good),
        measures=tuple(results[i] for i in good),  # type: ignore[misc]
        skipped=tuple(r for r in results if isinstance(r, str)),
        tracker=tracker,
    )


# -- RAVDESS file names ----------------------------------------------------------------------
_RAVDESS_NAME = re.compile(r"^03-01-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_RAVDESS_CODES = {
    "01": "neutral", "02": "calm", "03": "joy", "04": "sadness",
    "05": "anger", "06": "fear", "07": "disgust", "08": "surprise",
}
_INTENSITIES = {"01": "normal", "02": "strong"}


@dataclass(frozen=True)
class RavdessName:
    """Fields of a RAVDESS speech file name ``03-01-EE-II-SS-RR-AA``."""

    emotion: str  # shared vocabulary, or "calm" (kept apart here)
    intensity: str  # "normal" or "strong"
    statement: int  # 1 "Kids are talking by the door", 2 "Dogs are sitting by the door"
    repetition: int
    actor: int  # odd male, even female

    @property
    def gender(self) -> str:
        return "male" if self.actor % 2 else "female"


def parse_ravdess_name(path: str | os.PathLike[str]) -> RavdessName | None:
    """The fields of a RAVDESS speech clip's file name, or None for any other name."""
    m = _RAVDESS_NAME.match(Path(path).stem)
    if not m or m.group(1) not in _RAVDESS_CODES or m.group(2) not in _INTENSITIES:
        return None
    return RavdessName(
        emotion=_RAVDESS_CODES[m.group(1)], intensity=_INTENSITIES[m.group(2)],
        statement=int(m.group(3)), repetition=int(m.group(4)), actor=int(m.group(5)),
    )


# -- cues relative to neutral, and their aggregation -----------------------------------------
@dataclass(frozen=True)
class CueDefinition:
    """A cue of an emotional clip relative to the same actor's neutral of the same statement."""

    name: str
    measure: str  # the ProsodyMeasures field it is computed from
    kind: Literal["difference", "ratio"]  # emotion - neutral, or emotion / neutral
    unit: str
    meaning: str


CUES: tuple[CueDefinition, ...] = (
    CueDefinition("f0_shift_st", "f0_median_st", "difference", "st",
                  "median F0 change; > 0 is higher"),
    CueDefinition("f0_range_diff_st", "f0_range_st", "difference", "st",
                  "change of the 5-95th percentile F0 span"),
    CueDefinition("f0_range_ratio", "f0_range_st", "ratio", "x",
                  "F0 span (semitones) relative to neutral; scale F0 deviations around the median by this"),
    CueDefinition("f0_sd_diff_st", "f0_sd_st", "difference", "st", "change of the F0 standard deviation"),
    CueDefinition("duration_ratio", "duration_s", "ratio", "x",
                  "speaking duration relative to neutral; > 1 is slower"),
    CueDefinition("voiced_segment_rate_ratio", "voiced_segments_per_s", "ratio", "x",
                  "voiced segments per second relative to neutral; > 1 is faster articulation"),
    CueDefinition("level_diff_db", "level_db", "difference", "dB", "RMS level change; > 0 is louder"),
    CueDefinition("alpha_ratio_diff_db", "alpha_ratio_db", "difference", "dB",
                  "alpha ratio change; > 0 is more high-frequency energy (more vocal effort)"),
    CueDefinition("hammarberg_diff_db", "hammarberg_db", "difference", "dB",
                  "Hammarberg index change; < 0 is a flatter spectrum (more vocal effort)"),
    CueDefinition("hnr_diff_db", "hnr_db", "difference", "dB", "HNR change; < 0 is rougher or breathier"),
    CueDefinition("voiced_fraction_diff", "voiced_fraction", "difference", "fraction",
                  "change of the voiced share of the speaking span"),
)
_CUE_BY_NAME = {c.name: c for c in CUES}


@dataclass(frozen=True)
class CueStats:
    """One cue aggregated over actors: each actor contributes one value (their mean over clips)."""

    mean: float
    sd: float  # across actors (n - 1 denominator); NaN for one actor
    ci95_low: float  # t-based 95% confidence interval of the mean
    ci95_high: float
    n_actors: int
    male_mean: float  # mean over odd-numbered actors; NaN if none
    female_mean: float  # mean over even-numbered actors; NaN if none
    n_male: int
    n_female: int


@dataclass(frozen=True)
class EmotionProfile:
    """How actors move each cue from neutral to ``emotion``, by level ("pooled", "normal", "strong")."""

    emotion: str
    levels: Mapping[str, Mapping[str, CueStats]]  # level -> cue name -> stats

    @property
    def pooled(self) -> Mapping[str, CueStats]:
        return self.levels["pooled"]

    def mean(self, cue: str, level: str = "pooled") -> float:
        """Mean shift of ``cue`` over actors at ``level``."""
        return self.levels[level][cue].mean


def _cue_value(cue: CueDefinition, clip: ProsodyMeasures, reference: float) -> float:
    value = getattr(clip, cue.measure)
    if cue.kind == "difference":
        return value - reference
    return value / reference if reference > 0 else math.nan


def _actor_mean(cue: CueDefinition, values: list[float]) -> float:
    """An actor's value of a cue: arithmetic mean of differences, geometric mean of ratios."""
    v = np.array([x for x in values if math.isfinite(x) and (cue.kind == "difference" or x > 0)])
    if v.size == 0:
        return math.nan
    return float(np.mean(v)) if cue.kind == "difference" else float(np.exp(np.mean(np.log(v))))


def _stats(per_actor: Mapping[int, float]) -> CueStats:
    """Mean, SD, t-based 95% CI and per-gender means of one value per actor."""
    actors = sorted(a for a, v in per_actor.items() if math.isfinite(v))
    v = np.array([per_actor[a] for a in actors])
    n = len(v)
    mean = float(np.mean(v)) if n else math.nan
    sd = float(np.std(v, ddof=1)) if n > 1 else math.nan
    half = float(student_t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 else math.nan
    male = [per_actor[a] for a in actors if a % 2]
    female = [per_actor[a] for a in actors if not a % 2]
    return CueStats(
        mean=mean, sd=sd, ci95_low=mean - half, ci95_high=mean + half, n_actors=n,
        male_mean=float(np.mean(male)) if male else math.nan,
        female_mean=float(np.mean(female)) if female else math.nan,
        n_male=len(male), n_female=len(female),
    )


def _ravdess_rows(
    measures: Sequence[ProsodyMeasures], clips: Sequence[LabelledClip]
) -> list[tuple[RavdessName, ProsodyMeasures]]:
    if len(measures) != len(clips):
        raise ValueError(f"{len(measures)} measures for {len(clips)} clips; they must align")
    rows = [(parse_ravdess_name(c.path), m) for c, m in zip(clips, measures)]
    named = [(n, m) for n, m in rows if n is not None]
    if not named:
        raise CorpusError("no clip has a RAVDESS speech file name (03-01-EE-II-SS-RR-AA); "
                          "profiles are measured against each actor's neutral of the same statement")
    return named


def _neutral_references(
    rows: list[tuple[RavdessName, ProsodyMeasures]],
) -> dict[tuple[int, int], dict[str, float]]:
    """(actor, statement) -> mean of each measure over that actor's neutral renditions of it."""
    grouped: dict[tuple[int, int], list[ProsodyMeasures]] = defaultdict(list)
    for name, m in rows:
        if name.emotion == "neutral":
            grouped[(name.actor, name.statement)].append(m)
    return {key: {f: float(np.mean([getattr(m, f) for m in ms])) for f in MEASURE_FIELDS}
            for key, ms in grouped.items()}


def human_profiles(
    measures: Sequence[ProsodyMeasures], clips: Sequence[LabelledClip]
) -> dict[str, EmotionProfile]:
    """Profiles of the six non-neutral emotions, from RAVDESS clips and their aligned measures.

    Each emotional clip is read against the mean of the same actor's neutral renditions of the
    same statement (two in RAVDESS); clips without such a reference, calm clips and clips with
    other file names are left out. An actor's value is the mean over their clips (geometric for
    ratios); :class:`CueStats` aggregate those over actors. An emotion no actor has is absent.
    """
    rows = _ravdess_rows(measures, clips)
    references = _neutral_references(rows)
    # (emotion, level, cue) -> actor -> clip values
    values: dict[tuple[str, str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, m in rows:
        reference = references.get((name.actor, name.statement))
        if name.emotion not in PROFILE_EMOTIONS or reference is None:
            continue
        for cue in CUES:
            v = _cue_value(cue, m, reference[cue.measure])
            for level in ("pooled", name.intensity):
                values[(name.emotion, level, cue.name)][name.actor].append(v)
    profiles = {}
    for emotion in PROFILE_EMOTIONS:
        levels: dict[str, dict[str, CueStats]] = {}
        for level in LEVELS:
            per_cue = {
                cue.name: _stats({a: _actor_mean(cue, vs) for a, vs in actors.items()})
                for cue in CUES if (actors := values.get((emotion, level, cue.name)))
            }
            if per_cue:
                levels[level] = per_cue
        if levels:
            profiles[emotion] = EmotionProfile(emotion=emotion, levels=levels)
    return profiles


def neutral_baseline(
    measures: Sequence[ProsodyMeasures], clips: Sequence[LabelledClip]
) -> dict[str, dict[str, float]]:
    """Absolute neutral measures: group ("all", "male", "female") -> field -> mean over actors.

    Each actor contributes the mean over their RAVDESS neutral clips, so the numbers say where
    the shifts start from (e.g. the F0 a neutral male or female voice has).
    """
    per_actor: dict[int, list[ProsodyMeasures]] = defaultdict(list)
    for name, m in _ravdess_rows(measures, clips):
        if name.emotion == "neutral":
            per_actor[name.actor].append(m)
    groups = {"all": list(per_actor), "male": [a for a in per_actor if a % 2],
              "female": [a for a in per_actor if not a % 2]}
    out = {}
    for group, actors in groups.items():
        if actors:
            means = [{f: np.mean([getattr(m, f) for m in per_actor[a]]) for f in MEASURE_FIELDS} for a in actors]
            out[group] = {"n_actors": len(actors),
                          **{f: float(np.mean([m[f] for m in means])) for f in MEASURE_FIELDS}}
    return out


# -- the shipped file -------------------------------------------------------------------------
def _finite_or_none(x: float) -> float | None:
    return round(float(x), 6) if math.isfinite(x) else None  # JSON has no NaN


def _stats_dict(s: CueStats) -> dict[str, Any]:
    return {
        "mean": _finite_or_none(s.mean), "sd": _finite_or_none(s.sd),
        "ci95": [_finite_or_none(s.ci95_low), _finite_or_none(s.ci95_high)], "n_actors": s.n_actors,
        "male": {"mean": _finite_or_none(s.male_mean), "n_actors": s.n_male},
        "female": {"mean": _finite_or_none(s.female_mean), "n_actors": s.n_female},
    }


def _stats_from_dict(d: Mapping[str, Any]) -> CueStats:
    def num(x: Any) -> float:
        return math.nan if x is None else float(x)

    return CueStats(
        mean=num(d["mean"]), sd=num(d["sd"]), ci95_low=num(d["ci95"][0]), ci95_high=num(d["ci95"][1]),
        n_actors=int(d["n_actors"]), male_mean=num(d["male"]["mean"]),
        female_mean=num(d["female"]["mean"]), n_male=int(d["male"]["n_actors"]),
        n_female=int(d["female"]["n_actors"]),
    )


def _method(tracker: str) -> str:
    f0 = "WORLD Harvest" if tracker == "harvest" else "WORLD DIO + StoneMask"
    return (
        f"Per clip (16 kHz mono): F0 by {f0} (pyworld), 5 ms frames, search range "
        f"{F0_FLOOR_HZ:.0f}-{F0_CEIL_HZ:.0f} Hz, run on the speaking span +-100 ms. Active frames: "
        f"20 ms RMS of the {HIGH_PASS_HZ:.0f} Hz high-passed signal within {ACTIVE_RANGE_DB:.0f} dB of "
        "the clip's loudest frame; the speaking span runs from the first to the last active run of "
        f">= {MIN_ACTIVE_RUN_MS:.0f} ms. A frame is voiced when the tracker gives an F0, WORLD D4C's "
        "voicing test calls it periodic, it is active and inside the span, and its F0 is within an "
        "octave of the clip's median voiced F0; F0, tilt and HNR use steady voiced frames (10 ms in "
        "from each end of a voiced run). Tilt from 32 ms Hann spectra; HNR "
        "by windowed, window-corrected autocorrelation (Boersma 1993) over 6 pitch periods. Per "
        "emotional clip, each cue is taken relative to the mean of the same actor's RAVDESS-neutral "
        "renditions of the same statement (difference, or ratio for *_ratio cues); calm is not used. "
        "Per actor, the mean over their clips (geometric mean for ratios); then over actors: mean, "
        "SD (n-1), t-based 95% CI of the mean, and means over male (odd) and female (even) actors. "
        "'pooled' holds both intensities; 'normal' and 'strong' RAVDESS intensity 01 and 02. "
        "Aggregates are computed from the per-clip measures as stored here (rounded to "
        f"{_ROUND_DECIMALS} decimals), so they can be recomputed from this file."
    )


def profiles_document(
    result: CorpusMeasures, *, corpus: str = "RAVDESS speech, audio only, 16 kHz mono FLAC of the 48 kHz originals"
) -> dict[str, Any]:
    """The JSON document shipped as ``emosynth/data/human_prosody_profiles.json``.

    Rounds the per-clip measures first and computes every aggregate from the rounded ones, so
    the document is self-consistent (:func:`profiles_from_document` of it reproduces it).
    """
    rounded = [m.rounded() for m in result.measures]
    profiles = human_profiles(rounded, result.clips)
    names = [parse_ravdess_name(c.path) for c in result.clips]
    actors = sorted({n.actor for n in names if n is not None})
    return {
        "schema": SCHEMA,
        "metadata": {
            "title": "How human actors change their voice from neutral to each emotion",
            "licence": _LICENCE,
            "source": _CITATION,
            "corpus": corpus,
            "actors": actors,
            "n_clips_measured": len(rounded),
            "n_clips_skipped": len(result.skipped),
            "reference": "each actor's RAVDESS neutral (code 01) rendition of the same statement; "
                         "calm (02) is excluded",
            "method": _method(result.tracker),
            "pitch_tracker": result.tracker,
            "sample_rate_hz_expected": 16000,
            "levels": list(LEVELS),
            "measures": {f.name: _field_comment(f.name) for f in fields(ProsodyMeasures)},
            "cues": {c.name: {"from": c.measure, "kind": c.kind, "unit": c.unit, "meaning": c.meaning}
                     for c in CUES},
        },
        "profiles": {
            e: {level: {cue: _stats_dict(s) for cue, s in per_cue.items()} for level, per_cue in p.levels.items()}
            for e, p in profiles.items()
        },
        "neutral_baseline": {group: {k: _finite_or_none(v) if k != "n_actors" else v for k, v in values.items()}
                             for group, values in neutral_baseline(rounded, result.clips).items()},
        "clips": {
            "fields": list(MEASURE_FIELDS),
            "rows": {c.path.stem: list(m.as_tuple()) for c, m in zip(result.clips, rounded)},
        },
    }


def _field_comment(name: str) -> str:
    return {
        "f0_median_hz": "median F0 over voiced frames, Hz",
        "f0_median_st": "median F0, semitones re 100 Hz",
        "f0_range_st": "95th minus 5th percentile of F0, semitones",
        "f0_sd_st": "standard deviation of F0, semitones",
        "duration_s": "first to last active frame, s",
        "voiced_segments_per_s": "voiced runs >= 15 ms per second of speaking duration",
        "level_db": "RMS level over active frames, dBFS",
        "alpha_ratio_db": "10 log10(energy 1-5 kHz / energy 50-1000 Hz), mean over voiced frames, dB",
        "hammarberg_db": "strongest peak 0-2 kHz minus strongest peak 2-5 kHz, mean over voiced frames, dB",
        "hnr_db": "autocorrelation harmonics-to-noise ratio, mean over voiced frames, dB",
        "voiced_fraction": "voiced frames / frames of the speaking span",
    }[name]


def dumps_document(doc: Mapping[str, Any]) -> str:
    """JSON text of a profiles document: nested, but any object or list that fits on one line of
    at most 200 characters is written on one (one line per cue's statistics, per clip row)."""
    return _dumps(doc, 0) + "\n"


def _dumps(value: Any, depth: int) -> str:
    flat = json.dumps(value, allow_nan=False)
    if len(flat) + depth <= 200 or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(str(k))}: {_dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    items = [f"{pad}{_dumps(v, depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"


def measures_from_document(doc: Mapping[str, Any]) -> tuple[list[ProsodyMeasures], list[LabelledClip]]:
    """The per-clip measures stored in a profiles document, with clips rebuilt from their names."""
    table = doc["clips"]
    if list(table["fields"]) != list(MEASURE_FIELDS):
        raise ModelError(f"profiles file has clip fields {table['fields']}, expected {list(MEASURE_FIELDS)}")
    clips, measures = [], []
    for stem, row in table["rows"].items():
        name = parse_ravdess_name(stem)
        if name is None:
            raise ModelError(f"profiles file holds a clip that is not a RAVDESS name: {stem}")
        emotion = "neutral" if name.emotion == "calm" else name.emotion
        clips.append(LabelledClip(path=Path(f"{stem}.flac"), emotion=emotion, speaker=f"ravdess-{name.actor:02d}"))
        measures.append(ProsodyMeasures(*map(float, row)))
    return measures, clips


def profiles_from_document(doc: Mapping[str, Any]) -> dict[str, EmotionProfile]:
    """The profiles of a document as :class:`EmotionProfile` objects."""
    return {
        emotion: EmotionProfile(
            emotion=emotion,
            levels={level: {cue: _stats_from_dict(s) for cue, s in per_cue.items()}
                    for level, per_cue in by_level.items()},
        )
        for emotion, by_level in doc["profiles"].items()
    }


def _default_path() -> Path:
    return Path(str(resources.files("emosynth") / "data" / _DATA_FILE))


def load_profiles_document(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The whole profiles document (metadata, profiles, neutral baseline, per-clip measures).

    ``path`` defaults to the file shipped inside the package. Raises :class:`ModelError` when
    it is missing, is not JSON, or has another schema.
    """
    p = Path(path) if path is not None else _default_path()
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{p}: no such profiles file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{p}: not a JSON profiles file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ModelError(f"{p}: profiles schema {found!r}, expected {SCHEMA!r}")
    return doc


def load_human_profiles(path: str | os.PathLike[str] | None = None) -> dict[str, EmotionProfile]:
    """Emotion -> :class:`EmotionProfile`, from the shipped file (or ``path``)."""
    return profiles_from_document(load_profiles_document(path))


# -- display ------------------------------------------------------------------------------------
def _signed(x: float, digits: int) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.{digits}f}"


def format_profiles(
    profiles: Mapping[str, EmotionProfile], *, level: str = "pooled", cues: Sequence[str] | None = None
) -> str:
    """A plain-text table: one row per cue, one column per emotion, "mean [95% CI]".

    Ratios are shown as plain numbers (1.00 = as neutral), differences with a sign.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    names = list(cues) if cues is not None else [c.name for c in CUES]
    unknown = [c for c in names if c not in _CUE_BY_NAME]
    if unknown:
        raise ValueError(f"unknown cue(s) {', '.join(unknown)}; known: {', '.join(_CUE_BY_NAME)}")
    emotions = [e for e in PROFILE_EMOTIONS if e in profiles and level in profiles[e].levels]

    def cell(e: str, cue: CueDefinition) -> str:
        s = profiles[e].levels[level].get(cue.name)
        if s is None:
            return "-"
        if cue.kind == "ratio":
            return f"{s.mean:.2f} [{s.ci95_low:.2f},{s.ci95_high:.2f}]"
        digits = 3 if cue.unit == "fraction" else 1
        return f"{_signed(s.mean, digits)} [{_signed(s.ci95_low, digits)},{_signed(s.ci95_high, digits)}]"

    header = ["cue (unit)"] + emotions
    rows = [[f"{c} ({_CUE_BY_NAME[c].unit})"] + [cell(e, _CUE_BY_NAME[c]) for e in emotions] for c in names]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    n_actors = {profiles[e].levels[level][names[0]].n_actors for e in emotions if names[0] in profiles[e].levels[level]}
    which = "both intensities" if level == "pooled" else f"{level} intensity"
    lines = [
        (f"Change from neutral, {which}; mean over actors [95% CI]; "
         f"actors per cell: {', '.join(map(str, sorted(n_actors))) or '-'}"),
        "  ".join(h.ljust(w) for h, w in zip(header, widths)),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


# -- python -m emosynth.profiles ----------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Measure a RAVDESS folder and write the profiles JSON atomically; prints the pooled table."""
    parser = argparse.ArgumentParser(prog="python -m emosynth.profiles", description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True, help="RAVDESS speech folder (Actor_01 ...)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--tracker", choices=TRACKERS, default="harvest",
                        help="pitch tracker (default harvest, as shipped; dio is faster, rougher)")
    args = parser.parse_args(argv)
    try:
        clips = [c for c in read_corpus(args.data)
                 if (n := parse_ravdess_name(c.path)) is not None and n.emotion != "calm"]
        if not clips:
            raise CorpusError(f"{args.data}: no RAVDESS speech clips (03-01-EE-II-SS-RR-AA) found")
        start = time.perf_counter()
        result = measure_corpus(clips, workers=args.workers, progress=sys.stderr.isatty(), tracker=args.tracker)
        seconds = time.perf_counter() - start
        doc = profiles_document(result)
        write_text_atomic(args.out, dumps_document(doc))
    except EmosynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for reason in result.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(format_profiles(profiles_from_document(doc)))
    print(f"\n{len(result.measures)} clips measured in {seconds:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
