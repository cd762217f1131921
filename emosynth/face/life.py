"""Life: blinks, small head motion and gaze shifts, livelier with arousal; deterministic by seed.

Rates and sizes are from the literature on conversational faces, scaled by arousal ``a`` in
[-1, 1] (the spec's circumplex position):

* blinks: about 17 a minute at rest (Bentivoglio et al., 1997, "Analysis of blink rate patterns
  in normal subjects": 17/min at rest, 26 in conversation), here 17 * 2**(0.6 a) a minute,
  at least 0.6 s apart; each closes in 80 ms and opens in 150 ms;
* head: slow drift in yaw, pitch and roll (about 1.5 degrees, 0.3 Hz), larger with arousal, plus
  a small dip of the pitch with the loudness of the speech (beat gestures) and a lift with the
  voice's pitch rises (head motion follows F0: Yehia, Kuratate & Vatikiotis-Bateson 2002,
  "Linking facial animation, head motion and speech acoustics");
* brows: a small raise on pitch rises (Cave et al. 1996, "About the relationship between eyebrow
  movements and F0 variations");
* gaze: fixations of about 1.2 s (shorter with arousal), jumping in 40 ms saccades to points
  within a few degrees of the listener.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["blink_curve", "head_motion", "gaze_path", "gaze_weights", "pitch_accents", "BLINKS_PER_MINUTE"]

BLINKS_PER_MINUTE = 17.0
_MIN_BLINK_GAP_S = 0.6
_CLOSE_S, _OPEN_S = 0.08, 0.15
_HEAD_SD_RAD = 0.026  # ~1.5 degrees
_HEAD_BEAT_RAD = 0.03
_FIXATION_S = 1.2
_GAZE_SD_RAD = (0.07, 0.04)  # yaw, pitch
_SACCADE_S = 0.04
_GAZE_FULL_RAD = 0.5  # ~30 degrees: an eyeLook shape at 1.0
_PITCH_LIFT_RAD = 0.03  # head lift at a full pitch accent (~1.7 degrees)
BROW_ACCENT = 0.2  # browInnerUp / browOuterUp added at a full pitch accent
_ACCENT_FULL_ST = 4.0  # a rise this far above the speaker's median F0 is a full accent
_F0_MIN_HZ, _F0_MAX_HZ = 60.0, 500.0
_VOICING = 0.5  # normalised autocorrelation peak above which a frame is voiced
_FRAMES_AT_ONCE = 1024


def blink_curve(n: int, fps: int, arousal: float, rng: np.random.Generator) -> np.ndarray:
    """Eyelid closure (n,) in [0, 1]."""
    rate_hz = BLINKS_PER_MINUTE * 2.0 ** (0.6 * arousal) / 60.0
    t = np.arange(n) / fps
    out = np.zeros(n)
    at = rng.exponential(1.0 / rate_hz) * 0.5  # the first blink comes sooner than a full gap
    while at < n / fps:
        rise = np.clip((t - at) / _CLOSE_S, 0.0, 1.0)
        fall = np.clip(1.0 - (t - at - _CLOSE_S) / _OPEN_S, 0.0, 1.0)
        shape = np.where(t < at + _CLOSE_S, rise**2, fall**1.5)  # quick shut, slower opening
        out = np.maximum(out, np.where((t >= at) & (t <= at + _CLOSE_S + _OPEN_S), shape, 0.0))
        at += max(_MIN_BLINK_GAP_S, rng.exponential(1.0 / rate_hz))
    return out


def pitch_accents(audio: np.ndarray, sample_rate_hz: int, times_s: np.ndarray, loudness: np.ndarray) -> np.ndarray:
    """How far the voice's pitch rises above its own median at ``times_s``, as (n,) in [0, 1] (1 at
    _ACCENT_FULL_ST semitones or more), smoothed over about 60 ms; 0 where unvoiced or silent.

    F0 from the normalised autocorrelation of 40 ms windows (60-500 Hz), enough to find rises
    without a pitch-tracking extra; octave slips are limited by the median band."""
    x = np.asarray(audio, dtype=np.float64)
    win = int(0.04 * sample_rate_hz)
    lo, hi = int(sample_rate_hz / _F0_MAX_HZ), int(sample_rate_hz / _F0_MIN_HZ)
    starts = np.clip(np.round(times_s * sample_rate_hz).astype(np.int64) - win // 2, 0, max(0, len(x) - win))
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, win)), win)
    nfft = 1 << int(np.ceil(np.log2(2 * win)))
    window_ac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(win), nfft)) ** 2, nfft)
    lag, peak = np.zeros(len(starts), dtype=np.int64), np.zeros(len(starts))
    for i in range(0, len(starts), _FRAMES_AT_ONCE):  # in pieces: a 10-minute recording stays small in memory
        frames = windows[starts[i:i + _FRAMES_AT_ONCE]]
        frames = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(win)
        ac = np.fft.irfft(np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2, nfft, axis=1)
        norm = ac[:, lo:hi] / (ac[:, :1] + 1e-12) / (window_ac[lo:hi] / window_ac[0])
        lag[i:i + _FRAMES_AT_ONCE], peak[i:i + _FRAMES_AT_ONCE] = lo + np.argmax(norm, axis=1), norm.max(axis=1)
    voiced = (peak > _VOICING) & (loudness > 0.1)
    accent = np.zeros(len(times_s))
    if voiced.sum() < 3:
        return accent
    st = 12.0 * np.log2(sample_rate_hz / lag)
    median = np.median(st[voiced])
    voiced &= np.abs(st - median) < 12.0  # an octave off is a tracking slip
    accent[voiced] = np.clip((st[voiced] - median) / _ACCENT_FULL_ST, 0.0, 1.0)
    fps = 1.0 / max(float(np.median(np.diff(times_s))), 1e-3) if len(times_s) > 1 else 30.0
    return np.clip(gaussian_filter1d(accent, sigma=max(0.5, 0.06 * fps)), 0.0, 1.0)


def head_motion(n: int, fps: int, arousal: float, loudness: np.ndarray, rng: np.random.Generator,
                accents: np.ndarray | None = None) -> np.ndarray:
    """Head yaw, pitch, roll (n, 3) in radians; ``accents`` (pitch rises, :func:`pitch_accents`) lift it."""
    scale = _HEAD_SD_RAD * (1.0 + 0.6 * max(arousal, -0.6))
    drift = gaussian_filter1d(rng.standard_normal((n + 2 * fps, 3)), sigma=fps * 0.5, axis=0)[fps:fps + n]
    drift /= drift.std(axis=0, keepdims=True) + 1e-9
    head = drift * scale * np.array([1.0, 0.7, 0.4])
    beat = gaussian_filter1d(loudness.astype(np.float64), sigma=max(1.0, 0.08 * fps))
    head[:, 1] -= _HEAD_BEAT_RAD * (1.0 + 0.5 * arousal) * (beat - beat.mean())
    if accents is not None:
        head[:, 1] += _PITCH_LIFT_RAD * (accents - accents.mean())
    return head


def gaze_path(n: int, fps: int, arousal: float, rng: np.random.Generator) -> np.ndarray:
    """Gaze yaw, pitch (n, 2) in radians: fixations joined by short saccades."""
    out = np.zeros((n, 2))
    mean_fixation = _FIXATION_S * 2.0 ** (-0.5 * arousal)
    current, start = np.zeros(2), 0
    saccade = max(1, int(round(_SACCADE_S * fps)))
    while start < n:
        length = max(saccade + 1, int(rng.exponential(mean_fixation) * fps) + int(0.3 * fps))
        target = rng.standard_normal(2) * np.array(_GAZE_SD_RAD)
        stop = min(n, start + length)
        ramp = np.clip((np.arange(start, stop) - start + 1) / saccade, 0.0, 1.0)[:, None]
        out[start:stop] = current + ramp * (target - current)
        current, start = target, stop
    return out


def gaze_weights(gaze: np.ndarray) -> dict[str, np.ndarray]:
    """eyeLook* shapes for a gaze path. Positive yaw turns the eyes to the avatar's left."""
    yaw = np.clip(gaze[:, 0] / _GAZE_FULL_RAD, -1.0, 1.0)
    pitch = np.clip(gaze[:, 1] / _GAZE_FULL_RAD, -1.0, 1.0)
    left, right, up, down = np.clip(yaw, 0, 1), np.clip(-yaw, 0, 1), np.clip(pitch, 0, 1), np.clip(-pitch, 0, 1)
    return {
        "eyeLookOutLeft": left, "eyeLookInRight": left, "eyeLookInLeft": right, "eyeLookOutRight": right,
        "eyeLookUpLeft": up, "eyeLookUpRight": up, "eyeLookDownLeft": down, "eyeLookDownRight": down,
    }
