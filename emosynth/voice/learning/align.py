"""Placing Kokoro's tokens on a recording's time axis, through a Kokoro rendition of the same text.

Why this way: the corpora come without phone alignments, and Kokoro's durations are what we
need anyway. Kokoro reads the sentence once (its own per-token frames known), the recording is
aligned to that rendition by DTW (every 10 ms) over features made comparable across speakers,
restricted to the speech of both (the profiles' energy VAD, 50 ms margin), and every token
boundary of the rendition is carried through the DTW path.

The features, each dimension mean and variance normalised per utterance, are two halves of equal
weight: 24 log-mel bands (50-7600 Hz: the corpora are 16 kHz) with their time derivatives, for
sharp timing, and the last-layer states of the Whisper base encoder the recognizer ships
(multilingual, 20 ms, interpolated), for phonetic identity whatever the voice. Measured (path or
boundary error against known timing, Kokoro renditions by another voice with per-token durations
scaled at random; and on 24 human clips, how well Kokoro's predicted energy for the aligned
tokens follows the recording's, inside speech):

* MFCC c1-c12, mean and variance normalised (the textbook choice): nearly blind across voices
  (path error 141 ms: normalising each coefficient's variance lifts the high, pitch-ridden ones);
  without variance normalisation 45 ms; log-mel bands 24 ms; with derivatives 16 ms.
* boundaries (9 sentences, English and Polish): log-mel+derivatives mean 29.0 ms, median 15,
  90th percentile 65, 87.7% within 50 ms; Whisper states 22.2 / 10 / 35 / 92.6%; both
  22.8 / 10 / 40 / 92.7%.
* human clips, energy correlation (mean, worst clip): log-mel RAVDESS 0.696 (0.34), nEMO 0.630
  (0.17); Whisper 0.710 (0.50), 0.681 (0.50); both 0.728 (0.47), 0.700 (0.54). Both it is: the
  Whisper half removes the gross failures, the log-mel half sharpens the rest.

Boundaries are carried in the decoder's own time (a boundary between frames ``k`` and ``k + 1``
of the rendition is sample ``600 * k`` of its audio): the decoder voices each token about 60 ms
before its frames (:data:`~emosynth.voice.backbone.ACOUSTIC_LEAD_SAMPLES`), and carrying frame
boundaries through audio-to-audio DTW keeps that lead, so decoding the recording's alignment
lands each token where the recording has it. The pad tokens at both ends keep the rendition's
length (silence either side of the speech). Measured accuracy: docs/voice-material.md.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from math import gcd
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from ...errors import AudioError, MissingExtraError
from ..backbone import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from .acoustics import mel_filterbank, mel_power

__all__ = [
    "HOP_SAMPLES",
    "Alignment",
    "align_to_rendition",
    "alignment_features",
    "dtw_path",
    "quantize_boundaries",
    "spectral_features",
    "whisper_states",
]

#: DTW resolution: 10 ms at 24 kHz (a duration frame is 2.5 of them).
HOP_SAMPLES = 240
_FEATURE_N_FFT = 1024
_FEATURE_WIN = 600  # 25 ms
_FEATURE_BANDS = 24
_FEATURE_BAND_HZ = (50.0, 7600.0)
#: Mel power floor relative to the clip's loudest band: 80 dB down, whatever the recording gain.
_FEATURE_FLOOR = 1e-8
#: The recognizer's multilingual Whisper encoder: one state every 20 ms (two 10 ms mel frames).
_WHISPER = "base"
_WHISPER_RATE_HZ = 16_000
_WHISPER_STEP_MS = 20.0
_WHISPER_MAX_S = 30.0
_whisper_lock = threading.Lock()
_whisper_model: dict[str, Any] = {}
#: Silence kept either side of the detected speech, so onsets and offsets fall inside the DTW.
SEGMENT_MARGIN_S = 0.05
#: Cost of a diagonal DTW step relative to a horizontal or vertical one (2: symmetric, unbiased
#: towards either; 1 favours the diagonal). Chosen by the boundary accuracy on Kokoro renditions.
DIAGONAL_WEIGHT = 2.0


@dataclass(frozen=True)
class Alignment:
    """Where a sentence's tokens fall in a recording, in Kokoro's 25 ms frames."""

    frames_per_token: np.ndarray  # (n + 2,) int64 >= 1, pads included; sums to n_frames
    start_sample: int  # first sample of the aligned span in the 24 kHz recording (< 0: zeros before it)
    cost: float  # mean feature distance along the DTW path over that of all frame pairs (1: no match)

    @property
    def n_frames(self) -> int:
        return int(self.frames_per_token.sum())

    @property
    def stop_sample(self) -> int:
        """One past the last sample of the span (may lie beyond the recording: zeros after it)."""
        return self.start_sample + self.n_frames * SAMPLES_PER_FRAME


def alignment_features(samples_24k: np.ndarray) -> np.ndarray:
    """What the DTW compares, every 10 ms: :func:`spectral_features` and :func:`whisper_states`
    side by side, each half scaled to the same total variance, shape (T, 48 + 512)."""
    spectral = spectral_features(samples_24k)
    states = whisper_states(samples_24k)
    n = min(len(spectral), len(states))
    scale = np.sqrt(states.shape[1] / spectral.shape[1])
    return np.hstack([spectral[:n] * scale, states[:n]])


def whisper_states(samples_24k: np.ndarray) -> np.ndarray:
    """Whisper base encoder's last-layer states, interpolated from its 20 ms steps onto the
    10 ms grid (frame j at sample 240 j), each dimension mean and variance normalised, (T, 512)."""
    from ...recognizer.features import whisper_log_mel

    if samples_24k.size > _WHISPER_MAX_S * SAMPLE_RATE_HZ:
        raise AudioError(f"{samples_24k.size / SAMPLE_RATE_HZ:.1f} s of speech; a sentence to align "
                         f"must be under {_WHISPER_MAX_S:.0f} s")
    g = gcd(SAMPLE_RATE_HZ, _WHISPER_RATE_HZ)
    x16 = resample_poly(samples_24k, _WHISPER_RATE_HZ // g, SAMPLE_RATE_HZ // g).astype(np.float32)
    mel = np.ascontiguousarray(whisper_log_mel(x16)[None])
    states = _whisper_encode(mel)[: max(1, -(-x16.size // 320))]
    grid_ms = 1000.0 * HOP_SAMPLES / SAMPLE_RATE_HZ * np.arange(1 + samples_24k.size // HOP_SAMPLES)
    step_ms = _WHISPER_STEP_MS * np.arange(len(states))  # state k: mel frames 2k-1..2k+1, centred on 2k
    up = np.stack([np.interp(grid_ms, step_ms, states[:, d]) for d in range(states.shape[1])], axis=1)
    return (up - up.mean(axis=0)) / (up.std(axis=0) + 1e-8)


def _whisper_encode(mel: np.ndarray) -> np.ndarray:
    """(frames, 512) encoder states for a (1, 80, 2 * frames) Whisper log-mel."""
    try:
        import ctranslate2
    except ImportError:
        raise MissingExtraError("aligning recordings (ctranslate2)") from None
    from ...recognizer.encoders import encoder_model_dir

    with _whisper_lock:
        if _WHISPER not in _whisper_model:
            _whisper_model[_WHISPER] = ctranslate2.models.Whisper(
                str(encoder_model_dir(_WHISPER)), device="cpu", compute_type="int8", intra_threads=2)
        model = _whisper_model[_WHISPER]
    out = model.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True)
    return np.asarray(out, dtype=np.float64)[0]


def spectral_features(samples_24k: np.ndarray) -> np.ndarray:
    """Log-mel bands and their time derivatives every 10 ms, each dimension mean and variance
    normalised over the clip, shape (T, 48)."""
    bank = mel_filterbank(_FEATURE_N_FFT, _FEATURE_BANDS, SAMPLE_RATE_HZ, *_FEATURE_BAND_HZ)
    mel = mel_power(samples_24k, n_fft=_FEATURE_N_FFT, win=_FEATURE_WIN, hop=HOP_SAMPLES, filterbank=bank)
    log_mel = np.log(mel + _FEATURE_FLOOR * max(float(mel.max()), 1e-30))
    both = np.hstack([log_mel, np.gradient(log_mel, axis=0) if len(log_mel) > 1 else 0.0 * log_mel])
    return (both - both.mean(axis=0)) / (both.std(axis=0) + 1e-8)


def dtw_path(cost: np.ndarray, *, diagonal_weight: float = DIAGONAL_WEIGHT) -> np.ndarray:
    """The cheapest monotone path from (0, 0) to (N - 1, M - 1) through ``cost`` (N, M), steps
    (1, 0), (0, 1) and (1, 1) (the last at ``diagonal_weight`` times the cell's cost); shape (L, 2).

    Row by row in numpy: horizontal steps inside a row are a running minimum of
    ``D[i, k] - C[k]`` plus ``C[j]``, with ``C`` the row's cumulative cost.
    """
    n, m = cost.shape
    acc = np.empty((n, m))
    came = np.zeros((n, m), dtype=np.int8)  # 0 diagonal, 1 from above (i - 1), 2 from the left
    cum = np.cumsum(cost[0])
    acc[0], came[0, 1:] = cum, 2
    for i in range(1, n):
        diagonal = np.full(m, np.inf)
        diagonal[1:] = acc[i - 1, :-1] + diagonal_weight * cost[i, 1:]
        above = acc[i - 1] + cost[i]
        entry = np.minimum(diagonal, above)
        cum = np.cumsum(cost[i])
        run = np.minimum.accumulate(entry - cum)  # min is exact, so the comparison below is too
        from_left = (entry - cum) > run
        acc[i] = np.where(from_left, run + cum, entry)
        came[i] = np.where(from_left, 2, np.where(diagonal <= above, 0, 1))
    return _backtrack(came)


def _backtrack(came: np.ndarray) -> np.ndarray:
    i, j = came.shape[0] - 1, came.shape[1] - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        step = came[i, j] if i > 0 else 2
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
        path.append((i, j))
    return np.array(path[::-1], dtype=np.int64)


def align_to_rendition(recording_24k: np.ndarray, rendition_24k: np.ndarray,
                       rendition_frames: np.ndarray) -> Alignment:
    """Carry the rendition's token boundaries (``rendition_frames`` (n + 2,), pads included) onto
    ``recording_24k`` (the same sentence, any speaker, 24 kHz).

    Raises :class:`AudioError` when the recording's speech is too short to hold a frame per token.
    """
    from ...profiles.measure import speaking_span

    frames = np.asarray(rendition_frames, dtype=np.int64)
    rec_span = _speech(recording_24k, speaking_span)
    ren_span = _speech(rendition_24k, speaking_span)
    distances = _distances(alignment_features(rendition_24k[ren_span[0]:ren_span[1]]),
                           alignment_features(recording_24k[rec_span[0]:rec_span[1]]))
    path = dtw_path(distances)
    bounds = np.concatenate([[0], np.cumsum(frames)]) * SAMPLES_PER_FRAME  # rendition samples
    mapped = _carry(bounds.astype(np.float64), path, ren_span[0], rec_span[0])
    # The pads keep the rendition's own lengths: silence before the first and after the last token.
    mapped[0] = mapped[1] - bounds[1]
    mapped[-1] = mapped[-2] + (bounds[-1] - bounds[-2])
    start = int(3 * np.round(mapped[0] / 3))  # a whole number of 16 kHz samples too
    total = max(frames.size, int(np.round((mapped[-1] - start) / SAMPLES_PER_FRAME)))
    per_token = quantize_boundaries((mapped[1:-1] - start) / SAMPLES_PER_FRAME, total)
    return Alignment(frames_per_token=per_token, start_sample=start,
                     cost=float(distances[path[:, 0], path[:, 1]].mean() / distances.mean()))


def _speech(samples: np.ndarray, speaking_span) -> tuple[int, int]:
    """[start, stop) of the speech with the margin, within the clip."""
    first, last = speaking_span(samples, SAMPLE_RATE_HZ)
    margin = int(SEGMENT_MARGIN_S * SAMPLE_RATE_HZ)
    start, stop = max(0, first - margin), min(samples.size, last + margin + 1)
    if stop - start < 4 * HOP_SAMPLES:
        raise AudioError(f"only {1000 * (stop - start) / SAMPLE_RATE_HZ:.0f} ms of speech found; "
                         "too little to align a sentence to")
    return start, stop


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between every row of ``a`` (N, d) and of ``b`` (M, d): (N, M)."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def _carry(samples: np.ndarray, path: np.ndarray, ren_start: int, rec_start: int) -> np.ndarray:
    """Rendition sample positions -> recording sample positions through the DTW path.

    Each rendition feature frame maps to the mean recording frame the path pairs it with;
    positions between frame centres are interpolated, and positions outside the speech segment
    move one to one from its edge (silence is not warped).
    """
    n_ren = int(path[:, 0].max()) + 1
    matched = np.bincount(path[:, 0], weights=path[:, 1], minlength=n_ren) / np.bincount(path[:, 0], minlength=n_ren)
    ren_t = ren_start + HOP_SAMPLES * np.arange(n_ren, dtype=np.float64)
    rec_t = rec_start + HOP_SAMPLES * matched
    inside = np.interp(samples, ren_t, rec_t)
    before = rec_t[0] + (samples - ren_t[0])
    after = rec_t[-1] + (samples - ren_t[-1])
    return np.where(samples < ren_t[0], before, np.where(samples > ren_t[-1], after, inside))


def quantize_boundaries(inner_frames: np.ndarray, total_frames: int) -> np.ndarray:
    """Frames per token (n + 2,) from the n + 1 inner boundaries (in frames, real-valued, from the
    span start) and the span's length: boundaries rounded, then moved as little as needed for
    every token to keep at least one frame (Kokoro never gives a token none)."""
    inner = np.round(np.asarray(inner_frames, dtype=np.float64)).astype(np.int64)
    n_tokens = inner.size + 1
    if total_frames < n_tokens:
        raise AudioError(f"the aligned span has {total_frames} frames for {n_tokens} tokens; "
                         "each token needs at least one (25 ms)")
    bounds = np.concatenate([[0], inner, [total_frames]])
    for k in range(1, bounds.size - 1):  # forward: at least one frame after the previous boundary
        bounds[k] = max(bounds[k], bounds[k - 1] + 1)
    for k in range(bounds.size - 2, 0, -1):  # backward: room for the tokens still to come
        bounds[k] = min(bounds[k], bounds[k + 1] - 1)
    return np.diff(bounds)
