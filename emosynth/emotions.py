"""The emotion vocabulary every part of emosynth shares, and the one way to name a target emotion.

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

Emotion specs
-------------
Users name a target emotion as a string (``emosynth say --emotion joy:0.7 "text"``), and every
part of emosynth reads it through :func:`parse_emotion` into an :class:`EmotionSpec`: signed
weights over the primaries. That is the form in which the voice mixes, scales and negates its
per-primary prosody embeddings (as in Daisy-TTS) and the face blends its expressions. Grammar:

* ``neutral`` - no emotion: every weight 0. It takes no intensity (``neutral:1`` is tolerated)
  and cannot be mixed or negated.
* ``NAME`` or ``NAME:INTENSITY`` - NAME is a primary, an alias (``happy``, ``sad``, ``scared``,
  ... see :data:`ALIASES`) or a secondary emotion (below). INTENSITY defaults to 1: 0 is none,
  1 the full emotion, and values above 1 exaggerate, up to :data:`MAX_INTENSITY` (1.5).
* ``-TERM`` - negation: the term's weights with their sign flipped (``-joy:0.5``, "away from joy").
* ``TERM,TERM,...`` - a mixture: the terms' weights add up (``joy:0.5,surprise:0.3``,
  ``delight:0.8,-fear:0.2``; a repeated primary adds up too). The total intensity, the sum of
  |weights|, may not exceed MAX_INTENSITY. Terms that cancel (``joy,-joy``) are allowed: the
  spec then has no emotion, and its ``note`` says so.
* ``va:V,A`` - a point in valence-arousal space, V and A in [-1, 1] (``va:0.6,0.4``), resolved
  by the rule below. It is a whole spec: it cannot be mixed with terms or negated.

Names ignore letter case and surrounding spaces. Malformed specs raise ``EmotionSpecError``.

Resolving a valence-arousal point: the six non-neutral primaries and their negations give twelve
directions around the circumplex (a negated primary points opposite its primary: ``-sadness`` is
pleasant and mildly aroused). The two directions next to the point in angle bracket it
(neighbouring directions are at most 72 degrees apart), so the point is one non-negative
combination ``a * p_i + b * p_j`` of their positions - a 2x2 linear system. ``a`` and ``b``, with
the directions' signs, are the weights, so ``sum_k w_k * position_k`` is the point itself.
``va:0,0`` has no emotion. A point whose weights would add up to more than MAX_INTENSITY is beyond
what the primaries can express: it is scaled toward the origin until they add up to MAX_INTENSITY,
and the spec's ``note`` says so.

Secondary emotions
------------------
Plutchik's wheel has eight primaries (joy, trust, fear, surprise, sadness, disgust, anger,
anticipation, in that order around it) and names the pairs of them: *primary dyads* are
neighbours on the wheel, *secondary dyads* one petal apart, *tertiary dyads* two apart; opposites
(joy/sadness, fear/anger) do not combine. Ours lack trust and anticipation, which leaves 13 dyads.
A secondary at intensity x resolves to its two primaries at x/2 each: the midpoint blend of their
prosodies, whose weights add up to the intensity like any mixture.

==============  ===================  =========
secondary       components           dyad
==============  ===================  =========
awe             fear + surprise      primary
disappointment  surprise + sadness   primary    (Plutchik's "disapproval", accepted as an alias)
remorse         sadness + disgust    primary
contempt        disgust + anger      primary
guilt           joy + fear           secondary
despair         fear + sadness       secondary
unbelief        surprise + disgust   secondary
envy            sadness + anger      secondary
pride           anger + joy          secondary
delight         joy + surprise       tertiary
shame           fear + disgust       tertiary
outrage         surprise + anger     tertiary
morbidness      disgust + joy        tertiary
==============  ===================  =========

The names follow the dyad table as it is usually reproduced from Plutchik; some versions call
unbelief "shock".

References:
  J. A. Russell (1980). A circumplex model of affect. J. Personality and Social Psychology 39(6).
  J. A. Russell, A. Mehrabian (1977). Evidence for a three-factor theory of emotions.
  J. Research in Personality 11(3), 273-294 (table of 151 emotion terms).
  R. Plutchik (1980). Emotion: A Psychoevolutionary Synthesis. Harper & Row.
  R. Plutchik (2001). The nature of emotions. American Scientist 89(4), 344-350.
"""

from __future__ import annotations

import bisect
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from .errors import EmotionSpecError

__all__ = [
    "PRIMARY_EMOTIONS",
    "CircumplexPoint",
    "CIRCUMPLEX",
    "circumplex_array",
    "MAX_INTENSITY",
    "ALIASES",
    "SECONDARY_EMOTIONS",
    "DYAD_LEVELS",
    "SPEC_KINDS",
    "GRAMMAR",
    "EmotionSpec",
    "parse_emotion",
    "vocabulary",
]

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


#: Intensity 1 is the full primary; up to this much exaggerates it, beyond is an error.
MAX_INTENSITY: float = 1.5

#: Everyday names for the primaries (and Plutchik's own name for one secondary).
ALIASES: dict[str, str] = {
    "happy": "joy",
    "happiness": "joy",
    "sad": "sadness",
    "angry": "anger",
    "afraid": "fear",
    "fearful": "fear",
    "scared": "fear",
    "disgusted": "disgust",
    "surprised": "surprise",
    "disapproval": "disappointment",
}

#: Plutchik's dyads that our primaries can form: name -> its two primaries (see the module doc).
SECONDARY_EMOTIONS: dict[str, tuple[str, str]] = {
    "awe": ("fear", "surprise"),
    "disappointment": ("surprise", "sadness"),
    "remorse": ("sadness", "disgust"),
    "contempt": ("disgust", "anger"),
    "guilt": ("joy", "fear"),
    "despair": ("fear", "sadness"),
    "unbelief": ("surprise", "disgust"),
    "envy": ("sadness", "anger"),
    "pride": ("anger", "joy"),
    "delight": ("joy", "surprise"),
    "shame": ("fear", "disgust"),
    "outrage": ("surprise", "anger"),
    "morbidness": ("disgust", "joy"),
}

# Plutchik's wheel, in order; a dyad's level is how far apart its two primaries sit on it.
_WHEEL = ("joy", "trust", "fear", "surprise", "sadness", "disgust", "anger", "anticipation")
_LEVEL_BY_DISTANCE = {1: "primary", 2: "secondary", 3: "tertiary"}


def _dyad_level(first: str, second: str) -> str:
    gap = abs(_WHEEL.index(first) - _WHEEL.index(second))
    return _LEVEL_BY_DISTANCE[min(gap, len(_WHEEL) - gap)]


#: Each secondary's dyad level in Plutchik's scheme: "primary", "secondary" or "tertiary".
DYAD_LEVELS: dict[str, str] = {name: _dyad_level(*parts) for name, parts in SECONDARY_EMOTIONS.items()}

#: The forms an EmotionSpec can have been written in (``EmotionSpec.kind``).
SPEC_KINDS: tuple[str, ...] = ("neutral", "primary", "mixture", "secondary", "negation", "va")

#: The grammar of emotion specs, as ``emosynth emotions`` prints it.
GRAMMAR: str = f"""\
An emotion spec names a target emotion as signed weights over the primaries:
  neutral             no emotion (every weight 0)
  NAME                a primary, alias or secondary at intensity 1: joy, happy, delight
  NAME:INTENSITY      joy:0.7 (0 = none, 1 = the full emotion, up to {MAX_INTENSITY} exaggerates)
  -NAME[:INTENSITY]   negation, the same weights with the sign flipped: -joy:0.5
  TERM,TERM,...       mixture, the weights add up: joy:0.5,surprise:0.3 or delight:0.8,-fear:0.2
  va:V,A              a valence-arousal point, V and A in [-1, 1]: va:0.6,0.4
A secondary at intensity x is its two primaries at x/2 each: delight:0.8 = joy:0.4,surprise:0.4.
A va point becomes the non-negative blend of the two primaries or negated primaries that bracket
it on the circumplex; a point beyond reach is scaled toward neutral (see the spec's note).
Names ignore letter case and spaces. The total intensity (sum of |weights|) is at most {MAX_INTENSITY}."""

# Every error message ends with this, so a user sees what is accepted without opening the docs.
_GRAMMAR_LINE = (
    "Accepted: neutral | NAME[:INTENSITY] | -NAME[:INTENSITY] | TERM,TERM,... | va:V,A "
    f"(NAME a primary, alias or secondary, see `emosynth emotions`; INTENSITY in [0, {MAX_INTENSITY}], "
    "default 1; V and A in [-1, 1])"
)

_NAMES: tuple[str, ...] = (*PRIMARY_EMOTIONS, *ALIASES, *SECONDARY_EMOTIONS)
# Sums of cancelling terms leave residues like 1e-17; they must not count as an emotion.
_SNAP = 1e-12
# Rounding in the va solve can land a hair above the limit; that is not "beyond reach".
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class EmotionSpec:
    """A target emotion as signed weights over ``PRIMARY_EMOTIONS``: what the voice and face consume.

    Make one with :func:`parse_emotion`, :meth:`from_weights` or :meth:`neutral`. ``text`` is the
    canonical spelling (``parse_emotion(spec.text) == spec`` for every kind but ``va``), ``weights``
    has one signed weight per primary in order (neutral's is always 0), ``kind`` says which form
    was written (one of ``SPEC_KINDS``; test ``intensity == 0`` for "no emotion", since
    ``joy:0`` and ``joy,-joy`` have none either) and ``note`` explains any adjustment made.
    """

    text: str
    weights: tuple[float, ...]
    kind: str
    note: str = ""

    def __post_init__(self) -> None:
        weights = tuple(float(w) + 0.0 for w in self.weights)  # + 0.0 turns -0.0 into 0.0
        if len(weights) != len(PRIMARY_EMOTIONS):
            raise EmotionSpecError(
                f"an EmotionSpec needs one weight per primary ({', '.join(PRIMARY_EMOTIONS)}), got {len(weights)}")
        if not all(math.isfinite(w) for w in weights):
            raise EmotionSpecError(f"EmotionSpec weights must be finite numbers, got {weights}")
        if weights[0] != 0.0:
            raise EmotionSpecError("neutral's weight must be 0: neutral is the absence of emotion, not a direction")
        if self.kind not in SPEC_KINDS:
            raise EmotionSpecError(f"EmotionSpec kind {self.kind!r} is not one of {', '.join(SPEC_KINDS)}")
        object.__setattr__(self, "weights", weights)

    def __str__(self) -> str:
        return self.text

    @classmethod
    def neutral(cls) -> EmotionSpec:
        """No emotion: every weight 0."""
        return cls(text="neutral", weights=(0.0,) * len(PRIMARY_EMOTIONS), kind="neutral")

    @classmethod
    def from_weights(cls, weights: Mapping[str, float]) -> EmotionSpec:
        """The spec with these signed weights (primary or alias -> weight; missing ones are 0).

        The inverse of :meth:`as_dict`; the result is a primary, negation or mixture spec whose
        text lists the weights in ``PRIMARY_EMOTIONS`` order.
        """
        totals = dict.fromkeys(PRIMARY_EMOTIONS, 0.0)
        for name, weight in weights.items():
            totals[_primary_name(name)] += _finite_weight(name, weight)
        if totals.pop("neutral") != 0.0:
            raise EmotionSpecError("neutral's weight must be 0: neutral is the absence of emotion, not a direction")
        terms = [f"{'-' if w < 0 else ''}{name}:{_fmt(abs(w))}" for name, w in totals.items() if w != 0.0]
        return parse_emotion(",".join(terms)) if terms else cls.neutral()

    def weight_of(self, name: str) -> float:
        """The signed weight of one primary (aliases accepted)."""
        return self.weights[PRIMARY_EMOTIONS.index(_primary_name(name))]

    def as_dict(self) -> dict[str, float]:
        """Primary -> signed weight, for the non-zero weights only."""
        return {name: w for name, w in zip(PRIMARY_EMOTIONS, self.weights) if w != 0.0}

    @property
    def intensity(self) -> float:
        """How much emotion in all: the sum of |weights| (a primary's or secondary's own intensity)."""
        return math.fsum(abs(w) for w in self.weights)

    @property
    def dominant(self) -> str:
        """The primary with the largest positive weight (the first in order on a tie), or "neutral"."""
        best = max(range(len(self.weights)), key=self.weights.__getitem__)
        return PRIMARY_EMOTIONS[best] if self.weights[best] > 0 else "neutral"

    @property
    def valence(self) -> float:
        """Circumplex valence of the weights, sum_k w_k * valence_k, clipped to [-1, 1]."""
        return _clip(self._position()[0])

    @property
    def arousal(self) -> float:
        """Circumplex arousal of the weights, sum_k w_k * arousal_k, clipped to [-1, 1]."""
        return _clip(self._position()[1])

    def scaled(self, factor: float) -> EmotionSpec:
        """This emotion with every weight times ``factor`` (>= 0), e.g. for intensity sweeps.

        Each term's intensity is scaled, so the result has canonical text like any parsed spec.
        """
        factor = float(factor)
        if not math.isfinite(factor) or factor < 0:
            raise EmotionSpecError(
                f"a scale factor must be a finite number >= 0, got {factor}; to point away from an "
                f"emotion, negate it instead (e.g. -joy:0.5)")
        if self.intensity * factor > MAX_INTENSITY + _TOLERANCE:
            raise EmotionSpecError(
                f"{self.text} scaled by {factor:g} would have intensity {self.intensity * factor:.2f}, "
                f"above the limit {MAX_INTENSITY}")
        if self.kind == "neutral":
            return self
        if self.kind == "va":
            valence, arousal = (x * factor for x in self._position())
            return EmotionSpec(text=f"va:{valence:.2f},{arousal:.2f}",
                               weights=tuple(w * factor for w in self.weights), kind="va")
        terms = [_parse_term(self.text, raw) for raw in self.text.split(",")]
        return parse_emotion(",".join(_term_text(name, intensity * factor, negated)
                                      for name, intensity, negated in terms))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; ``EmotionSpec.from_weights(d["weights"])`` gives the weights back."""
        return {
            "text": self.text,
            "kind": self.kind,
            "weights": self.as_dict(),
            "intensity": self.intensity,
            "dominant": self.dominant,
            "valence": self.valence,
            "arousal": self.arousal,
            "note": self.note,
        }

    def _position(self) -> tuple[float, float]:
        valence = math.fsum(w * CIRCUMPLEX[e].valence for e, w in zip(PRIMARY_EMOTIONS, self.weights))
        arousal = math.fsum(w * CIRCUMPLEX[e].arousal for e, w in zip(PRIMARY_EMOTIONS, self.weights))
        return valence, arousal


def parse_emotion(spec: str | EmotionSpec) -> EmotionSpec:
    """Read an emotion spec (grammar in the module doc and :data:`GRAMMAR`); a spec passes through.

    Raises ``EmotionSpecError`` saying what is wrong and what is accepted.
    """
    if isinstance(spec, EmotionSpec):
        return spec
    if not isinstance(spec, str):
        raise EmotionSpecError(
            f"an emotion spec is a string such as 'joy:0.7', not {type(spec).__name__}. {_GRAMMAR_LINE}")
    clean = spec.strip().lower()
    if not clean:
        _fail(spec, "it is empty")
    head, _, rest = clean.partition(":")
    if head.strip().lstrip("-").strip() == "va":
        return _va_spec(spec, head.strip(), rest)
    terms = [_parse_term(spec, raw) for raw in clean.split(",")]
    if any(name == "neutral" for name, _, _ in terms):
        return _neutral_spec(spec, terms)
    return _terms_spec(spec, terms)


def vocabulary() -> dict[str, Any]:
    """Everything a user can name, JSON-ready: primaries, secondaries, aliases and the grammar."""
    primaries = [{"emotion": e, "valence": CIRCUMPLEX[e].valence, "arousal": CIRCUMPLEX[e].arousal}
                 for e in PRIMARY_EMOTIONS]
    secondaries = []
    for name, parts in SECONDARY_EMOTIONS.items():
        spec = parse_emotion(name)
        secondaries.append({"emotion": name, "components": list(parts), "dyad": DYAD_LEVELS[name],
                            "valence": round(spec.valence, 4), "arousal": round(spec.arousal, 4)})
    return {"primaries": primaries, "secondaries": secondaries, "aliases": dict(ALIASES), "grammar": GRAMMAR}


# --- terms: (name, intensity, negated), name a primary or a secondary ---------------------------

_Term = tuple[str, float, bool]


def _parse_term(spec: str, raw: str) -> _Term:
    body = raw.strip()
    if not body:
        _fail(spec, "it has an empty term (a stray comma?)")
    negated = body.startswith("-")
    name_part, colon, value_part = (body[1:] if negated else body).partition(":")
    name = _term_name(spec, name_part.strip())
    intensity = _parse_intensity(spec, name, value_part.strip()) if colon else 1.0
    return name, intensity, negated


def _term_name(spec: str, name: str) -> str:
    if not name:
        _fail(spec, "a term has no emotion name (a stray '-' or ':'?)")
    if name == "va":
        _fail(spec, "va:V,A must be the whole spec: it cannot be mixed with other terms")
    name = ALIASES.get(name, name)
    if name in CIRCUMPLEX or name in SECONDARY_EMOTIONS:
        return name
    if _is_number(name):
        _fail(spec, f"{name!r} stands where an emotion name should be (a stray comma? decimals take a '.')")
    hint = "; separate terms with commas" if " " in name else ""
    _fail(spec, f"unknown emotion {name!r}{_did_you_mean(name)}{hint}; the primaries are "
                f"{', '.join(PRIMARY_EMOTIONS)}, and there are secondaries and aliases")


def _parse_intensity(spec: str, name: str, value: str) -> float:
    if not value:
        _fail(spec, f"{name!r} has a ':' but no intensity after it")
    if not _is_number(value):
        stray = " (a stray ':'?)" if ":" in value else ""
        _fail(spec, f"the intensity {value!r} of {name!r} is not a number{stray}")
    intensity = float(value) + 0.0  # + 0.0: "-0" is zero, not a negative intensity
    if math.isnan(intensity):
        _fail(spec, f"the intensity of {name!r} is NaN, not a number")
    if intensity < 0:
        _fail(spec, f"the intensity {value} of {name!r} is negative; intensities are in [0, {MAX_INTENSITY}], "
                    f"and pointing away from an emotion is a negation: -{name}:{value.lstrip('-')}")
    if intensity > MAX_INTENSITY:
        _fail(spec, f"the intensity {value} of {name!r} is above the limit {MAX_INTENSITY} "
                    f"(1 is the full emotion; up to {MAX_INTENSITY} exaggerates it)")
    return intensity


def _neutral_spec(spec: str, terms: list[_Term]) -> EmotionSpec:
    if len(terms) > 1:
        _fail(spec, "neutral means no emotion, so it cannot be mixed with other terms; drop it "
                    "(lower intensities already move a mixture toward neutral)")
    _, intensity, negated = terms[0]
    if negated:
        _fail(spec, "neutral cannot be negated: it has no direction; negate an emotion instead, e.g. -joy:0.5")
    if intensity != 1.0:
        _fail(spec, f"neutral takes no intensity (it is the absence of emotion), got {_fmt(intensity)}; "
                    "write 'neutral', or give an emotion a low intensity, e.g. joy:0.2")
    return EmotionSpec.neutral()


def _terms_spec(spec: str, terms: list[_Term]) -> EmotionSpec:
    totals = dict.fromkeys(PRIMARY_EMOTIONS, 0.0)
    for name, intensity, negated in terms:
        parts = SECONDARY_EMOTIONS.get(name, (name,))
        for part in parts:  # a secondary is the midpoint of its two primaries
            totals[part] += (-intensity if negated else intensity) / len(parts)
    weights = tuple(0.0 if abs(w) < _SNAP else w for w in totals.values())
    total = math.fsum(abs(w) for w in weights)
    if total > MAX_INTENSITY + _TOLERANCE:
        _fail(spec, f"the terms add up to intensity {total:.2f} (the sum of |weights|), above the limit "
                    f"{MAX_INTENSITY}; lower them (joy:0.5,surprise:0.5 already blends two primaries "
                    "at full intensity)")
    cancelled = len(terms) > 1 and total == 0.0 and any(intensity > 0 for _, intensity, _ in terms)
    note = "the terms cancel out: no emotion remains (the same as neutral)" if cancelled else ""
    text = ",".join(_term_text(*term) for term in terms)
    return EmotionSpec(text=text, weights=weights, kind=_kind(terms), note=note)


def _kind(terms: list[_Term]) -> str:
    if len(terms) > 1:
        return "mixture"
    name, _, negated = terms[0]
    if negated:
        return "negation"
    return "secondary" if name in SECONDARY_EMOTIONS else "primary"


def _term_text(name: str, intensity: float, negated: bool) -> str:
    return f"{'-' if negated else ''}{name}:{_fmt(intensity)}"


# --- valence-arousal points ---------------------------------------------------------------------

def _directions() -> list[tuple[float, str, float]]:
    """(angle in [0, 2 pi), primary, sign) of the 12 primaries and negated primaries, by angle."""
    directions = []
    for name in PRIMARY_EMOTIONS[1:]:
        point = CIRCUMPLEX[name]
        for sign in (1.0, -1.0):
            angle = math.atan2(sign * point.arousal, sign * point.valence) % (2 * math.pi)
            directions.append((angle, name, sign))
    return sorted(directions)


_DIRECTIONS = _directions()
_ANGLES = [angle for angle, _, _ in _DIRECTIONS]


def _va_spec(spec: str, head: str, rest: str) -> EmotionSpec:
    if head.startswith("-"):
        _fail(spec, "a va point cannot be negated; negate its values instead, e.g. va:-0.6,-0.4")
    values = [v.strip() for v in rest.split(",")] if rest.strip() else []
    if len(values) != 2:
        _fail(spec, f"va takes exactly two numbers, valence and arousal (va:V,A), got {len(values)}; "
                    "it cannot be mixed with other terms")
    valence, arousal = (_coordinate(spec, label, v) for label, v in zip(("valence", "arousal"), values))
    return _point_spec(valence, arousal)


def _coordinate(spec: str, label: str, value: str) -> float:
    if not _is_number(value):
        _fail(spec, f"the {label} {value!r} is not a number")
    number = float(value) + 0.0
    if not -1.0 <= number <= 1.0:  # also refuses NaN
        _fail(spec, f"the {label} {value} is outside [-1, 1]")
    return number


def _point_spec(valence: float, arousal: float) -> EmotionSpec:
    text = f"va:{_fmt(valence)},{_fmt(arousal)}"
    weights = _point_weights(valence, arousal)
    total = math.fsum(abs(w) for w in weights)
    if total <= MAX_INTENSITY + _TOLERANCE:
        return EmotionSpec(text=text, weights=weights, kind="va")
    shrink = MAX_INTENSITY / total  # the solve is linear, so this keeps the point's direction
    valence, arousal = valence * shrink, arousal * shrink
    note = (f"{text} needs intensity {total:.2f}, above the limit {MAX_INTENSITY}; "
            f"scaled toward neutral to va:{valence:.2f},{arousal:.2f}")
    return EmotionSpec(text=f"va:{valence:.2f},{arousal:.2f}",
                       weights=tuple(w * shrink for w in weights), kind="va", note=note)


def _point_weights(valence: float, arousal: float) -> tuple[float, ...]:
    """Signed weights whose circumplex position is exactly (valence, arousal); see the module doc."""
    weights = dict.fromkeys(PRIMARY_EMOTIONS, 0.0)
    if valence == 0.0 and arousal == 0.0:
        return tuple(weights.values())
    angle = math.atan2(arousal, valence) % (2 * math.pi)
    after = bisect.bisect_right(_ANGLES, angle)
    (_, first, s1), (_, second, s2) = _DIRECTIONS[after - 1], _DIRECTIONS[after % len(_DIRECTIONS)]
    x1, y1 = s1 * CIRCUMPLEX[first].valence, s1 * CIRCUMPLEX[first].arousal
    x2, y2 = s2 * CIRCUMPLEX[second].valence, s2 * CIRCUMPLEX[second].arousal
    det = x1 * y2 - x2 * y1  # > 0: the second direction is less than 180 degrees counter-clockwise
    a = max(0.0, (valence * y2 - x2 * arousal) / det)
    b = max(0.0, (x1 * arousal - valence * y1) / det)
    weights[first] += s1 * a
    weights[second] += s2 * b
    return tuple(0.0 if abs(w) < _SNAP else w for w in weights.values())


# --- small helpers ------------------------------------------------------------------------------

def _fail(spec: str, problem: str) -> NoReturn:
    raise EmotionSpecError(f"bad emotion spec {spec!r}: {problem}. {_GRAMMAR_LINE}")


def _did_you_mean(name: str) -> str:
    matches = difflib.get_close_matches(name, _NAMES, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""


def _primary_name(name: str) -> str:
    """A primary's canonical name from a primary or alias, as weights are keyed."""
    clean = str(name).strip().lower()
    clean = ALIASES.get(clean, clean)
    if clean in CIRCUMPLEX:
        return clean
    if clean in SECONDARY_EMOTIONS:
        first, second = SECONDARY_EMOTIONS[clean]
        raise EmotionSpecError(f"{clean!r} is a secondary emotion, not a primary: weights are per primary "
                               f"(it is {first} + {second})")
    raise EmotionSpecError(f"unknown primary emotion {name!r}{_did_you_mean(clean)}; "
                           f"the primaries are {', '.join(PRIMARY_EMOTIONS)}")


def _finite_weight(name: str, weight: object) -> float:
    try:
        value = float(weight)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EmotionSpecError(f"the weight of {name!r} must be a number, got {weight!r}") from None
    if not math.isfinite(value):
        raise EmotionSpecError(f"the weight of {name!r} must be a finite number, got {weight!r}")
    return value + 0.0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fmt(x: float) -> str:
    """Two decimals where they read back as the same float, else the shortest form that does."""
    short = f"{x:.2f}"
    return short if float(short) == x else repr(x)


def _clip(x: float) -> float:
    return min(1.0, max(-1.0, x))
