"""The emotion vocabulary every part of emosynth shares.

Seven primary emotions, each with a position in valence-arousal space (Russell's circumplex,
Russell 1980). The coordinates are the pleasure and arousal values Russell & Mehrabian (1977)
measured for the matching English emotion terms, on a -1..1 scale:

=========  ===============  =======  =======
primary    term rated       valence  arousal
=========  ===============  =======  =======
neutral    (origin)          0.00     0.00
joy        "happy"           0.81     0.51
sadness    "sad"            -0.63    -0.27
anger      "angry"          -0.51     0.59
fear       "fearful"        -0.64     0.60
disgust    "disgusted"      -0.60     0.35
surprise   "surprised"       0.40     0.67
=========  ===============  =======  =======

References:
  J. A. Russell (1980). A circumplex model of affect. J. Personality and Social Psychology 39(6).
  J. A. Russell, A. Mehrabian (1977). Evidence for a three-factor theory of emotions.
  J. Research in Personality 11(3), 273-294 (table of 151 emotion terms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PRIMARY_EMOTIONS", "CircumplexPoint", "CIRCUMPLEX", "circumplex_array"]

#: The primaries, in the order every probability vector in emosynth uses.
PRIMARY_EMOTIONS: tuple[str, ...] = (
    "neutral",
    "joy",
    "sadness",
    "anger",
    "fear",
    "disgust",
    "surprise",
)


@dataclass(frozen=True)
class CircumplexPoint:
    """A point in valence-arousal space, both in [-1, 1]."""

    valence: float
    arousal: float


CIRCUMPLEX: dict[str, CircumplexPoint] = {
    "neutral": CircumplexPoint(0.00, 0.00),
    "joy": CircumplexPoint(0.81, 0.51),
    "sadness": CircumplexPoint(-0.63, -0.27),
    "anger": CircumplexPoint(-0.51, 0.59),
    "fear": CircumplexPoint(-0.64, 0.60),
    "disgust": CircumplexPoint(-0.60, 0.35),
    "surprise": CircumplexPoint(0.40, 0.67),
}


def circumplex_array() -> np.ndarray:
    """Positions of the primaries as an array of shape (7, 2): columns valence, arousal."""
    return np.array(
        [[CIRCUMPLEX[e].valence, CIRCUMPLEX[e].arousal] for e in PRIMARY_EMOTIONS],
        dtype=np.float64,
    )
