"""Taking a portrait's own expression away before a track moves it.

A photo comes with an expression of its own: the astronaut smiles with her teeth (FaceLandmarker
reads mouthSmile 0.9 on her), another may raise the brows or frown. The shapes of a track add to the
face the photo shows, so a smiling photo kept smiling under sadness or anger. Here the photo's own
blendshapes are measured with MediaPipe's FaceLandmarker and undone by the same displacement fields
that make them (:mod:`.head`, carried over to the photo by :class:`.portrait.PortraitRenderer`),
applied with the opposite sign to the rest pose: a negative smile takes the mouth corners and cheeks
down and in, negative brow raises lower the brows, a negative brow lowerer lifts them. Parted lips
are closed separately (the renderer's rest pose).

How much of each field undoes what the photo shows is not known beforehand (FaceLandmarker's reading
is not linear in our shapes, and it depends on the face), so it is found in a closed loop: render the
rest pose, read it back with FaceLandmarker, push each shape that still reads above a relaxed face's
level further the other way, in proportion to what is left (the step's gain measured from the last
change), for a few rounds. Only the shapes in :data:`UNDONE` are touched; each counter-weight is at
most :data:`MAX_COUNTER` (a stronger pull than the shape itself would tear the warp).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .arkit import ARKIT_BLENDSHAPES

__all__ = ["UNDONE", "RELAXED", "MAX_COUNTER", "Neutralised", "neutralise"]

#: The photo's own shapes that are taken away: smile (AU12) with its cheek raise (AU6), frown
#: (AU15), the brows raised (AU1, AU2) or lowered (AU4), the upper lip raised (AU10).
UNDONE = ("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "cheekSquintRight",
          "mouthFrownLeft", "mouthFrownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
          "browDownLeft", "browDownRight")
#: What FaceLandmarker reads on a relaxed face, about: a shape reading above this is undone toward it.
RELAXED = 0.1
#: The strongest counter-weight on a shape (the shape's own field, the other way).
MAX_COUNTER = 1.5
_ROUNDS = 6
_FIRST_GAIN = 0.6  # read change per unit of counter-weight, assumed before it is measured


@dataclass(frozen=True)
class Neutralised:
    """What the photo read (``own``), the counter-weights found (``counter``, (52,), >= 0: how much
    of each shape's field was taken away) and what the neutral rest pose reads (``rest``)."""

    own: np.ndarray
    counter: np.ndarray
    rest: np.ndarray

    def reading(self, name: str, which: str = "rest") -> float:
        return float(getattr(self, which)[ARKIT_BLENDSHAPES.index(name)])


def neutralise(render_rest: Callable[[np.ndarray], np.ndarray], own: np.ndarray,
               read: Callable[[np.ndarray], np.ndarray]) -> Neutralised:
    """Find counter-weights that take the photo's expression away.

    ``render_rest(counter)`` draws the rest pose with ``counter`` (52,) of each shape's field taken
    away; ``read(frame)`` gives FaceLandmarker's 52 blendshapes of a frame (NaN where no face);
    ``own`` is what it read on the photo itself.
    """
    cols = np.array([ARKIT_BLENDSHAPES.index(n) for n in UNDONE])
    counter = np.zeros(len(ARKIT_BLENDSHAPES))
    now = read(render_rest(counter))
    if np.isnan(now[cols]).any():  # the rest pose (lips closed) not found again: leave the face as it is
        return Neutralised(own=own, counter=counter, rest=now)
    gain = np.full(len(cols), _FIRST_GAIN)
    best = (float(np.sum(np.maximum(now[cols] - RELAXED, 0.0))), counter.copy(), now)
    for _ in range(_ROUNDS):
        excess = now[cols] - RELAXED
        active = (excess > 0.03) & (counter[cols] < MAX_COUNTER)
        if not active.any():
            break
        step = np.where(active, excess / gain, 0.0)
        trial = counter.copy()
        trial[cols] = np.clip(counter[cols] + step, 0.0, MAX_COUNTER)
        after = read(render_rest(trial))
        if np.isnan(after[cols]).any():
            break
        moved = trial[cols] - counter[cols]
        dropped = now[cols] - after[cols]
        measured = np.divide(dropped, moved, out=np.full(len(cols), np.nan), where=moved > 1e-3)
        gain = np.where(np.isfinite(measured), np.clip(measured, 0.15, 2.0), gain)
        counter, now = trial, after
        left = float(np.sum(np.maximum(now[cols] - RELAXED, 0.0)))
        if left < best[0]:
            best = (left, counter.copy(), now)
    _, counter, now = best
    return Neutralised(own=own, counter=counter, rest=now)
