"""Decoding one prediction in consecutive windows of frames, so that its first sound comes early.

Why: Kokoro's decoder costs about the same per second of audio whatever the length (about 20 ms a
25 ms frame on one core), so a stream that waits for a whole sentence starts a second or more
late. Decoding the first ~0.3 s of speech alone, then the rest in growing windows, lets a client
start playing after a fraction of that while the rest is decoded faster than it plays.

What a window does that decoding the whole would do too, and what it cannot:

* each window is decoded with :data:`CONTEXT_FRAMES` of input on either side, dropped from its
  output, so the convolutions at its edges see the input the whole decoding would;
* the harmonic source's phase is a running sum of F0 from the start of the decoder's input, so a
  window that starts later would restart it and its harmonics would cancel the previous window's
  where the two are crossfaded. The phase the window misses (modulo a cycle) is added to F0 over the
  first :data:`_PHASE_STEPS` steps of its left context, so from there on its source is the whole
  decoding's (every harmonic's phase is a multiple of the first's, modulo a cycle);
* the decoder's instance norms take their statistics over the input they are given, and these
  cannot be carried over without the whole decoding. So a window's spectra differ a little from
  the whole's (a 1-2 dB mean log-mel difference over speech where the int8 and float graphs differ
  by 0.4-0.7, docs/serve.md). The model was trained on crops of utterances, so each window is a
  rendition it makes; the streamed audio is what the client plays, scores and animates;
* windows meet at the quietest frame near each planned cut, with a :data:`CROSSFADE_SAMPLES` fade.

Cuts depend on the prediction alone, never on timing, so the result is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .backbone import SAMPLES_PER_FRAME
from .errors import ProsodyControlError

if TYPE_CHECKING:
    from .backbone import Backbone, ProsodyPrediction

__all__ = ["CONTEXT_FRAMES", "CROSSFADE_SAMPLES", "FIRST_WINDOW_FRAMES", "decode_windows", "window_cuts"]

#: Frames of input a window sees beyond each of its ends (0.2 s).
CONTEXT_FRAMES = 8
#: Frames after the leading pad token's in the first window: about 0.3 s of speech (0.4 s of sound
#: with the edge of silence the synthesizer keeps before it).
FIRST_WINDOW_FRAMES = 12
#: Each window after the first is this much longer than the one before, so that while one plays the
#: next, longer one is decoded (the decoder runs faster than real time) and fewer windows pay context.
GROWTH = 1.5
#: A remainder shorter than this joins the window before it.
MIN_WINDOW_FRAMES = 16
#: How far (frames) a cut may move to the quietest frame around it.
_CUT_SEARCH_FRAMES = 4
#: Samples over which two windows are crossfaded where they meet (5 ms at 24 kHz).
CROSSFADE_SAMPLES = 120
#: Frames of the leading silence the first window reads before ``from_frame`` (decode_windows).
_LEAD_IN_FRAMES = 2
#: F0 steps at the start of a window's input that carry the phase it missed.
_PHASE_STEPS = 8
#: 24000 Hz / 300 samples per F0 step: one step of F0 f advances the source's phase by f / 80 cycles.
_HZ_PER_CYCLE_STEP = 80.0


def window_cuts(prediction: ProsodyPrediction, *, first_frames: int = FIRST_WINDOW_FRAMES,
                growth: float = GROWTH, from_frame: int = 0) -> list[int]:
    """Frame indices where consecutive windows meet (empty: decode the whole at once).

    The first window ends ``first_frames`` frames after the leading pad token's (its model-made
    silence); each next one is ``growth`` times longer; each cut moves to the lowest-energy frame
    within four frames, where a join is least audible. ``from_frame``: as for :func:`decode_windows`."""
    n = prediction.n_frames
    energy = prediction.energy.reshape(-1, 2).mean(axis=1)  # one value a frame
    cuts: list[int] = []
    size = float(first_frames)
    at = int(prediction.frames_per_token[0]) + first_frames
    while n - at >= MIN_WINDOW_FRAMES and at - CONTEXT_FRAMES >= 0:
        lo = max(CONTEXT_FRAMES, (cuts[-1] if cuts else from_frame) + MIN_WINDOW_FRAMES // 2, at - _CUT_SEARCH_FRAMES)
        hi = min(n - MIN_WINDOW_FRAMES // 2, at + _CUT_SEARCH_FRAMES)
        if hi <= lo:
            break
        cut = lo + int(np.argmin(energy[lo:hi]))
        cuts.append(cut)
        size *= growth
        at = cut + int(round(size))
    return cuts


def decode_windows(backbone: Backbone, prediction: ProsodyPrediction, cuts: Sequence[int], *,
                   from_frame: int = 0) -> Iterator[np.ndarray]:
    """The prediction's audio (float32, 24 kHz) in consecutive pieces, one per window between
    ``cuts`` (frame indices, increasing, each at least :data:`CONTEXT_FRAMES` inside ``from_frame``
    and the last frame).

    The pieces join to ``prediction.n_frames * 600`` samples; with no cuts the one piece is exactly
    :meth:`Backbone.decode`'s audio. Each piece is yielded as soon as its window is decoded (less
    the crossfade's first half, held back until the next window is there to fade into).

    ``from_frame`` > 0 leaves the frames before it undecoded (zeros in the first piece): they must
    be silence the caller drops, as the synthesizer drops most of the leading pad token's 0.3-0.5 s,
    which would otherwise be much of what the first window costs. The first window then takes only
    :data:`_LEAD_IN_FRAMES` of that silence as its left context, and the later windows' source
    phase is carried from where the first window's input starts."""
    n = prediction.n_frames
    bounds = [from_frame, *[int(c) for c in cuts], n]
    if not 0 <= from_frame < n or any(b - a < 1 for a, b in zip(bounds, bounds[1:], strict=False)) or \
            any(c < from_frame + CONTEXT_FRAMES or c > n - CONTEXT_FRAMES for c in bounds[1:-1]):
        raise ProsodyControlError(f"window cuts must increase and stay {CONTEXT_FRAMES} frames inside frames "
                                  f"{from_frame} to {n}, got {list(cuts)}")
    half = CROSSFADE_SAMPLES // 2
    fade_in = (0.5 - 0.5 * np.cos(np.pi * (np.arange(2 * half) + 0.5) / (2 * half))).astype(np.float32)
    held: np.ndarray | None = None  # the previous window's audio over the coming crossfade
    origin = max(0, from_frame - _LEAD_IN_FRAMES)  # where the first window's input, and its source phase, start
    for k in range(len(bounds) - 1):
        start, stop = bounds[k], bounds[k + 1]
        lo, hi = (origin if k == 0 else start - CONTEXT_FRAMES), min(n, stop + CONTEXT_FRAMES)
        f0 = _phase_carried_f0(prediction.f0_hz, origin, lo, hi)
        audio = backbone.decoder_audio(prediction.aligned[:, :, lo:hi], f0, prediction.energy[2 * lo:2 * hi],
                                       prediction.style, prediction.style_offsets)
        # this window's audio on the whole's sample clock: [lo * 600, hi * 600)
        first = start * SAMPLES_PER_FRAME - (half if k > 0 else 0)
        last = stop * SAMPLES_PER_FRAME - (half if k < len(bounds) - 2 else 0)
        piece = audio[first - lo * SAMPLES_PER_FRAME:last - lo * SAMPLES_PER_FRAME].copy()
        if k == 0 and from_frame:
            piece = np.concatenate([np.zeros(from_frame * SAMPLES_PER_FRAME, np.float32), piece])
        if held is not None:
            piece[:2 * half] = held * (1.0 - fade_in) + piece[:2 * half] * fade_in
        if k < len(bounds) - 2:
            tail = last - lo * SAMPLES_PER_FRAME
            held = audio[tail:tail + 2 * half].copy()
        yield piece


def _phase_carried_f0(f0_hz: np.ndarray, origin: int, lo: int, hi: int) -> np.ndarray:
    """F0 of frames [lo, hi) with the source phase of the steps from ``origin`` to ``lo`` added to
    its first steps (a few Hz each), so the window's harmonic source continues the one of the input
    that starts at ``origin`` (the first window's)."""
    f0 = f0_hz[2 * lo:2 * hi].astype(np.float32, copy=True)
    if lo == origin:
        return f0
    missed = float(np.sum(f0_hz[2 * origin:2 * lo], dtype=np.float64) / _HZ_PER_CYCLE_STEP) % 1.0  # cycles
    steps = min(_PHASE_STEPS, f0.size)
    f0[:steps] += np.float32(missed * _HZ_PER_CYCLE_STEP / steps)
    return f0
