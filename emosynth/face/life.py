"""Life: blinks, small head motion and gaze shifts, livelier with arousal; deterministic by seed.

Rates and sizes are from the literature on conversational faces, scaled by arousal ``a`` in
[-1, 1] (the spec's circumplex position):

* blinks: about 17 a minute at rest (Bentivoglio et al., 1997, "Analysis of blink rate patterns
  in normal subjects": 17/min at rest, 26 in conversation), here 17 * 2**(0.6 a) a minute,
  at least 0.6 s apart; each closes in 80 ms and opens in 150 ms;
* head: slow drift in yaw, pitch and roll (about 1.5 degrees, 0.3 Hz), larger with arousal, plus
  a small dip of the pitch with the loudness of the speech (beat gestures);
* gaze: fixations of about 1.2 s (shorter with arousal), jumping in 40 ms saccades to points
  within a few degrees of the listener.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["blink_curve", "head_motion", "gaze_path", "gaze_weights", "BLINKS_PER_MINUTE"]

BLINKS_PER_MINUTE = 17.0
_MIN_BLINK_GAP_S = 0.6
_CLOSE_S, _OPEN_S = 0.08, 0.15
_HEAD_SD_RAD = 0.026  # ~1.5 degrees
_HEAD_BEAT_RAD = 0.03
_FIXATION_S = 1.2
_GAZE_SD_RAD = (0.07, 0.04)  # yaw, pitch
_SACCADE_S = 0.04
_GAZE_FULL_RAD = 0.5  # ~30 degrees: an eyeLook shape at 1.0


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


def head_motion(n: int, fps: int, arousal: float, loudness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Head yaw, pitch, roll (n, 3) in radians."""
    scale = _HEAD_SD_RAD * (1.0 + 0.6 * max(arousal, -0.6))
    drift = gaussian_filter1d(rng.standard_normal((n + 2 * fps, 3)), sigma=fps * 0.5, axis=0)[fps:fps + n]
    drift /= drift.std(axis=0, keepdims=True) + 1e-9
    head = drift * scale * np.array([1.0, 0.7, 0.4])
    beat = gaussian_filter1d(loudness.astype(np.float64), sigma=max(1.0, 0.08 * fps))
    head[:, 1] -= _HEAD_BEAT_RAD * (1.0 + 0.5 * arousal) * (beat - beat.mean())
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
