"""Emotional variants of real recordings: the same speaker and words, delivered as another emotion.

A recording is analysed with WORLD (Harvest F0, CheapTrick envelope, D4C aperiodicity; pyworld)
and resynthesised with the cues that human actors change from their neutral to each emotion
(RAVDESS, normal intensity; ``emosynth profiles``), the same measured profiles the voice's emotion
tokens start from:

* F0 level (semitones), range (the contour's deviations from the median, scaled) and contour
  (the trend of F0 over the utterance, semitones a second, tilted about its middle);
* tempo (the frame sequence re-timed, pitch kept);
* spectral tilt: the alpha-ratio change (energy above 1 kHz against below), as a smooth gain
  that rises from 700 Hz to 1.5 kHz;
* voice quality: the HNR change, as more (or less) aperiodic energy;
* level (dB), with the result's peak kept below full scale.

A spec's signed weights combine the emotions' changes linearly, so intensity scales them,
mixtures add and negation reverses them. The speaker's gender, which picks the actors whose
profile is used, is read from the median F0 (below 160 Hz: male).

Pitch is what costs a variant its speaker: a speaker encoder hears a voice 4-5 semitones higher
(actors' anger, fear and surprise) as partly someone else (docs/batch.md). With ``keep_speaker``
the pitch change (level, range and trend, nothing else) is scaled back in steps until the variant's
speaker similarity to the recording reaches that floor (extra ``speaker``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .audio import prepare_array
from .emotions import PRIMARY_EMOTIONS, EmotionSpec, parse_emotion
from .errors import AudioError, MissingExtraError

__all__ = ["VoiceChange", "EmotionalVariant", "voice_change", "augment", "require_world", "WORK_RATE_HZ", "MALE_F0_BELOW_HZ",
           "PITCH_STEPS"]

WORK_RATE_HZ = 24000
MALE_F0_BELOW_HZ = 160.0
_FRAME_MS = 5.0
_PEAK = 0.98
#: With ``keep_speaker``: the shares of the pitch change tried, in order, until the speaker is kept.
PITCH_STEPS = (1.0, 0.75, 0.5, 0.25, 0.0)


@dataclass(frozen=True)
class VoiceChange:
    """How one recording is moved; zeros change nothing."""

    f0_shift_st: float = 0.0
    f0_range_log2: float = 0.0
    tempo_log2: float = 0.0  # +1: twice as fast
    level_db: float = 0.0
    tilt_db: float = 0.0  # alpha-ratio change: > 0 more energy above 1 kHz (more vocal effort)
    hnr_db: float = 0.0  # < 0: rougher, breathier
    f0_slope_st_per_s: float = 0.0  # the contour's trend: > 0 rises more (or falls less) over the utterance

    def with_pitch_scaled(self, share: float) -> "VoiceChange":
        """The same change with its pitch moves (level, range, trend) scaled by ``share``."""
        return replace(self, f0_shift_st=self.f0_shift_st * share, f0_range_log2=self.f0_range_log2 * share,
                       f0_slope_st_per_s=self.f0_slope_st_per_s * share)

    def as_tuple(self) -> tuple[float, ...]:
        return (self.f0_shift_st, self.f0_range_log2, self.tempo_log2, self.level_db, self.tilt_db, self.hnr_db,
                self.f0_slope_st_per_s)

    def to_dict(self) -> dict[str, float]:
        names = ("f0_shift_st", "f0_range_log2", "tempo_log2", "level_db", "tilt_db", "hnr_db", "f0_slope_st_per_s")
        return {k: round(v, 4) for k, v in zip(names, self.as_tuple())}


def voice_change(emotion: str | EmotionSpec, gender: str) -> VoiceChange:
    """The human change for a spec: the weighted sum of each primary's profile (``gender``: male/female)."""
    from .profiles import load_human_profiles
    from .voice.fitting import human_tokens

    spec = parse_emotion(emotion)
    prosody = human_tokens(gender)
    profiles = load_human_profiles()
    total = np.zeros(7)
    for name, w in zip(PRIMARY_EMOTIONS, spec.weights):
        if w == 0.0:
            continue
        stats = profiles[name].levels["normal"]

        def cue(key: str) -> float:
            s = stats[key]
            value = s.male_mean if gender == "male" else s.female_mean
            return float(value if math.isfinite(value) else s.mean)

        c = prosody[name]
        total += w * np.array([c.f0_shift_st, c.f0_range_log2, c.tempo_log2, c.loudness_db,
                               cue("alpha_ratio_diff_db"), cue("hnr_diff_db"), cue("f0_slope_diff_st_per_s")])
    return VoiceChange(*map(float, total))


def require_world():
    """pyworld, or MissingExtraError naming the extra that brings it."""
    try:
        import pyworld
    except ImportError:
        raise MissingExtraError("augmenting recordings (WORLD analysis)", extra="profiles") from None
    return pyworld


def _retime(x: np.ndarray, n_out: int) -> np.ndarray:
    """Frames (n, ...) linearly resampled to n_out frames along time."""
    pos = np.linspace(0, len(x) - 1, n_out)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    frac = (pos - lo).reshape(-1, *([1] * (x.ndim - 1)))
    return x[lo] * (1 - frac) + x[hi] * frac


@dataclass(frozen=True)
class EmotionalVariant:
    """A recording moved toward an emotion."""

    audio: np.ndarray  # float32 at WORK_RATE_HZ
    change: VoiceChange  # what was applied
    speaker_similarity: float | None = None  # to the recording; measured only with keep_speaker


def augment(samples: np.ndarray, sample_rate_hz: int, emotion: str | EmotionSpec, *,
            gender: str | None = None, keep_speaker: float | None = None) -> EmotionalVariant:
    """The recording moved toward ``emotion`` (audio at WORK_RATE_HZ).

    ``keep_speaker`` (a cosine in (0, 1), e.g. 0.85): the largest share of the pitch change in
    PITCH_STEPS whose result is at least that similar to the recording as a speaker; where even no
    pitch change falls short, the variant without one. Needs the extra ``speaker``.
    """
    pw = require_world()
    if keep_speaker is not None and not 0.0 < keep_speaker < 1.0:
        raise ValueError(f"keep_speaker must be a speaker similarity between 0 and 1, got {keep_speaker!r}")
    audio = prepare_array(samples, sample_rate_hz, target_rate_hz=WORK_RATE_HZ)
    x = audio.samples.astype(np.float64)
    f0, t = pw.harvest(x, WORK_RATE_HZ, f0_floor=60.0, f0_ceil=700.0, frame_period=_FRAME_MS)
    voiced = f0 > 0
    if voiced.sum() < 10:
        raise AudioError("the recording has almost no voiced speech (under 50 ms); nothing to give an emotion")
    median_hz = float(np.median(f0[voiced]))
    change = voice_change(emotion, gender or ("male" if median_hz < MALE_F0_BELOW_HZ else "female"))
    analysis = _Analysis(x, f0, pw.cheaptrick(x, f0, t, WORK_RATE_HZ), pw.d4c(x, f0, t, WORK_RATE_HZ), median_hz)
    if keep_speaker is None:
        return EmotionalVariant(_render(analysis, change), change)
    from .evaluation.speaker import cosine_similarity, shared_encoder

    encoder = shared_encoder()
    original = encoder.embed(prepare_array(x, WORK_RATE_HZ, target_rate_hz=16_000).samples)
    for share in PITCH_STEPS:
        tried = change.with_pitch_scaled(share)
        y = _render(analysis, tried)
        heard = encoder.embed(prepare_array(y, WORK_RATE_HZ, target_rate_hz=16_000).samples)
        similarity = cosine_similarity(original, heard)
        if similarity >= keep_speaker:
            break
    return EmotionalVariant(y, tried, similarity)


@dataclass(frozen=True)
class _Analysis:
    """A recording at WORK_RATE_HZ and its WORLD parameters."""

    x: np.ndarray
    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    median_hz: float


def _render(a: _Analysis, change: VoiceChange) -> np.ndarray:
    """WORLD resynthesis of an analysed recording with ``change`` applied."""
    pw = require_world()
    f0, sp, ap, median_hz = a.f0, a.sp, a.ap, a.median_hz
    voiced = f0 > 0
    n_out = max(2, int(round(len(f0) * 2.0 ** -change.tempo_log2)))
    # pitch: level, range around the median and the trend, in semitones. The trend is steeper by
    # the re-timing to come, so the result has the asked slope, and the tilted contour is moved
    # back so its median stays where the level change puts it (the profiles' level is a median).
    st = 12.0 * np.log2(np.where(voiced, f0, median_hz) / median_hz)
    st = st * 2.0 ** change.f0_range_log2 + change.f0_shift_st
    seconds = np.arange(len(f0)) * _FRAME_MS / 1000.0
    tilted = st + change.f0_slope_st_per_s * (n_out / len(f0)) * seconds
    st = tilted + (np.median(st[voiced]) - np.median(tilted[voiced]))
    f0 = np.where(voiced, median_hz * 2.0 ** (st / 12.0), 0.0)
    # tempo: re-time the frames; voicing follows the nearest frame so no voiced edge is smeared
    if n_out != len(f0):
        near = np.round(np.linspace(0, len(f0) - 1, n_out)).astype(int)
        f0 = np.where(voiced[near], _retime(np.where(voiced, f0, median_hz), n_out), 0.0)
        sp = np.exp(_retime(np.log(sp + 1e-16), n_out))
        ap = _retime(ap, n_out)
    # tilt: a smooth high-shelf from 700 Hz to 1.5 kHz, on the power envelope
    freqs = np.linspace(0, WORK_RATE_HZ / 2, sp.shape[1])
    ramp = np.clip((np.log(np.maximum(freqs, 1.0)) - math.log(700.0)) / math.log(1500.0 / 700.0), 0.0, 1.0)
    sp = sp * 10.0 ** (change.tilt_db * ramp / 10.0)
    # voice quality: HNR down by d dB = aperiodic power up by d dB
    ap = np.clip(ap * 10.0 ** (-change.hnr_db / 10.0), 1e-4, 1.0 - 1e-6)
    y = pw.synthesize(np.ascontiguousarray(f0), np.ascontiguousarray(sp), np.ascontiguousarray(ap),
                      WORK_RATE_HZ, _FRAME_MS)
    rms_in, rms_out = np.sqrt(np.mean(a.x**2)), np.sqrt(np.mean(y**2)) + 1e-12
    y = y * (rms_in / rms_out) * 10.0 ** (change.level_db / 20.0)
    peak = float(np.max(np.abs(y)))
    if peak > _PEAK:  # louder than full scale allows: keep the shape, limit the peak
        y = y * (_PEAK / peak)
    return y.astype(np.float32)
