"""Per-clip prosody measures (F0, tempo, level, tilt, HNR) and their corpus-wide measurement.

The method is described in :mod:`emosynth.profiles`; every setting here changes the shipped numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy.ndimage import binary_erosion
from scipy.signal import butter, sosfiltfilt

from ..audio import load_audio, prepare_array
from ..cpus import usable_cpus
from ..emotions import PRIMARY_EMOTIONS
from ..errors import AudioError, CorpusError, EmosynthError, MissingExtraError
from ..recognizer.corpus import LabelledClip

# -- analysis settings (changing any of these changes the shipped numbers: bump SCHEMA) ------
SCHEMA = "emosynth-human-prosody-profiles/2"
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
    f0_slope_st_per_s: float  # the contour's trend: slope of a line fitted to voiced F0 (st) over time

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
    grid, grid_level, threshold_db, first, last = _energy_vad(filtered, fs)
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
        f0_slope_st_per_s=float(np.polyfit(times[steady], st, 1)[0]),
    )


def speaking_span(samples: np.ndarray, sample_rate_hz: int) -> tuple[int, int]:
    """First and last sample (inclusive, 5 ms grid) of the speech in a clip, by the energy VAD that
    :func:`measure_clip` reads its speaking span with: frames within 35 dB of the loudest, runs of
    30 ms or more. ``samples`` (n,) float in [-1, 1]. Shared so that other stages trim speech as
    the profiles do (RAVDESS clips hold about a second of silence around it)."""
    x = np.asarray(samples, dtype=np.float64)
    grid, _, _, first, last = _energy_vad(_high_pass(x, sample_rate_hz), sample_rate_hz)
    return int(grid[first]), int(grid[last])


def voiced_f0(samples: np.ndarray, sample_rate_hz: int, *,
              frame_period_ms: float = FRAME_PERIOD_MS) -> tuple[np.ndarray, np.ndarray]:
    """Harvest F0 (Hz) every ``frame_period_ms`` from time 0 with the profiles' range, and 0 where
    it is not trustworthy: frames D4C calls aperiodic (Harvest carries F0 across voiceless
    consonants) and values more than an octave from the clip's median (tracking jumps).
    Returns (f0, times_s), shapes (T,). Shared so that F0 targets elsewhere match the profiles'."""
    x = np.ascontiguousarray(samples, dtype=np.float64)
    f0, times = _track_f0(x, sample_rate_hz, "harvest", frame_period_ms)
    voiced = (f0 > 0) & _periodic_frames(x, f0, times, sample_rate_hz)
    voiced &= _near_median(f0, voiced)
    return np.where(voiced, f0, 0.0), times


def _energy_vad(filtered: np.ndarray, fs: int) -> tuple[np.ndarray, np.ndarray, float, int, int]:
    """(grid samples, grid levels dB, threshold dB, first, last active grid index) on a 5 ms grid."""
    hop = fs * FRAME_PERIOD_MS / 1000.0
    grid = np.round(np.arange(int(len(filtered) / hop) + 1) * hop).astype(np.int64)
    grid_level = _frame_levels_db(filtered, grid, fs)
    threshold_db = float(grid_level.max() - ACTIVE_RANGE_DB)
    first, last = _speaking_span(grid_level > threshold_db)
    return grid, grid_level, threshold_db, first, last


def _semitones(f0_hz: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(f0_hz / 100.0)


def _track_f0(x: np.ndarray, fs: int, tracker: Tracker,
              frame_period_ms: float = FRAME_PERIOD_MS) -> tuple[np.ndarray, np.ndarray]:
    """F0 in Hz per frame (0 where none is found) and the frame times in s, shapes (T,)."""
    pw = _pyworld()
    if tracker == "harvest":
        return pw.harvest(x, fs, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=frame_period_ms)
    f0, times = pw.dio(x, fs, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=frame_period_ms)
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
    with ProcessPoolExecutor(max_workers=workers or usable_cpus()) as pool:
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


