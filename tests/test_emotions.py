from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re

import numpy as np
import pytest

from emosynth import emotions
from emosynth.emotions import (
    ALIASES,
    CIRCUMPLEX,
    DYAD_LEVELS,
    GRAMMAR,
    MAX_INTENSITY,
    PRIMARY_EMOTIONS,
    SECONDARY_EMOTIONS,
    EmotionSpec,
    parse_emotion,
)
from emosynth.errors import EmosynthError, EmotionSpecError


def w(**weights: float) -> tuple[float, ...]:
    """A weight tuple in PRIMARY_EMOTIONS order from keyword weights."""
    assert set(weights) <= set(PRIMARY_EMOTIONS)
    return tuple(weights.get(e, 0.0) for e in PRIMARY_EMOTIONS)


def position(spec: EmotionSpec) -> np.ndarray:
    """sum_k w_k * position_k, unclipped."""
    return np.array(spec.weights) @ emotions.circumplex_array()


@pytest.mark.parametrize(
    ("text", "weights", "kind", "canonical"),
    [
        ("joy", w(joy=1.0), "primary", "joy:1.00"),
        ("joy:0.7", w(joy=0.7), "primary", "joy:0.70"),
        ("  JOY : 0.7 ", w(joy=0.7), "primary", "joy:0.70"),
        ("sadness:1.5", w(sadness=1.5), "primary", "sadness:1.50"),
        ("fear:0.123", w(fear=0.123), "primary", "fear:0.123"),
        ("anger:0", w(), "primary", "anger:0.00"),
        ("joy:-0", w(), "primary", "joy:0.00"),
        ("delight:0.8", w(joy=0.4, surprise=0.4), "secondary", "delight:0.80"),
        ("awe", w(fear=0.5, surprise=0.5), "secondary", "awe:1.00"),
        ("-joy:0.5", w(joy=-0.5), "negation", "-joy:0.50"),
        ("- sad", w(sadness=-1.0), "negation", "-sadness:1.00"),
        ("-delight:0.5", w(joy=-0.25, surprise=-0.25), "negation", "-delight:0.50"),
        ("joy:0.5,surprise:0.3", w(joy=0.5, surprise=0.3), "mixture", "joy:0.50,surprise:0.30"),
        ("joy:0.3, joy:0.2", w(joy=0.5), "mixture", "joy:0.30,joy:0.20"),
        ("delight:0.6,joy:0.2", w(joy=0.5, surprise=0.3), "mixture", "delight:0.60,joy:0.20"),
        ("delight:0.8,-fear:0.2", w(joy=0.4, surprise=0.4, fear=-0.2), "mixture", "delight:0.80,-fear:0.20"),
        ("Happy:0.5,-SAD:0.5", w(joy=0.5, sadness=-0.5), "mixture", "joy:0.50,-sadness:0.50"),
        ("neutral", w(), "neutral", "neutral"),
        (" Neutral:1 ", w(), "neutral", "neutral"),
        ("neutral:1.0", w(), "neutral", "neutral"),
        ("va:0,0", w(), "va", "va:0.00,0.00"),
        ("va:0.81,0.51", w(joy=1.0), "va", "va:0.81,0.51"),
        ("VA: -0.63 , -0.27", w(sadness=1.0), "va", "va:-0.63,-0.27"),
        ("va:-0.405,-0.255", w(joy=-0.5), "va", "va:-0.405,-0.255"),
    ],
)
def test_every_form_resolves_to_the_expected_weights(text, weights, kind, canonical):
    spec = parse_emotion(text)
    assert spec.weights == pytest.approx(weights, abs=1e-12)
    if kind != "va":  # the va solve goes through floating-point division
        assert spec.weights == weights
    assert spec.kind == kind
    assert spec.text == canonical
    assert spec.note == ""
    assert len(spec.weights) == len(PRIMARY_EMOTIONS) and spec.weights[0] == 0.0


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("happy", "joy"), ("happiness", "joy"), ("sad", "sadness"), ("angry", "anger"),
        ("afraid", "fear"), ("fearful", "fear"), ("scared", "fear"), ("disgusted", "disgust"),
        ("surprised", "surprise"), ("disapproval", "disappointment"),
    ],
)
def test_aliases_resolve_to_their_emotion(alias, target):
    assert ALIASES[alias] == target
    for text in (alias, f" {alias.upper()} :0.6", f"-{alias.title()}:0.4"):
        spec = parse_emotion(text)
        canonical = text.strip().lower().replace(alias, target).replace(" ", "")
        assert spec == parse_emotion(canonical)
        assert target in spec.text and alias not in spec.text.replace(target, "")


SECONDARIES = {
    "awe": (("fear", "surprise"), "primary"),
    "disappointment": (("surprise", "sadness"), "primary"),
    "remorse": (("sadness", "disgust"), "primary"),
    "contempt": (("disgust", "anger"), "primary"),
    "guilt": (("joy", "fear"), "secondary"),
    "despair": (("fear", "sadness"), "secondary"),
    "unbelief": (("surprise", "disgust"), "secondary"),
    "envy": (("sadness", "anger"), "secondary"),
    "pride": (("anger", "joy"), "secondary"),
    "delight": (("joy", "surprise"), "tertiary"),
    "shame": (("fear", "disgust"), "tertiary"),
    "outrage": (("surprise", "anger"), "tertiary"),
    "morbidness": (("disgust", "joy"), "tertiary"),
}


@pytest.mark.parametrize("name", sorted(SECONDARIES))
@pytest.mark.parametrize("intensity", [0.3, 1.0, 1.5])
def test_a_secondary_is_its_two_primaries_at_half_intensity_each(name, intensity):
    components, level = SECONDARIES[name]
    assert SECONDARY_EMOTIONS[name] == components and DYAD_LEVELS[name] == level
    spec = parse_emotion(f"{name}:{intensity}")
    assert spec.kind == "secondary"
    assert spec.as_dict() == {c: intensity / 2 for c in components}
    assert spec.intensity == pytest.approx(intensity)
    midpoint = (np.array([CIRCUMPLEX[c].valence for c in components]).mean(),
                np.array([CIRCUMPLEX[c].arousal for c in components]).mean())
    assert position(spec) == pytest.approx(np.array(midpoint) * intensity)


def test_the_secondaries_are_every_non_opposite_pair_of_primaries():
    pairs = {frozenset(parts) for parts in SECONDARY_EMOTIONS.values()}
    opposites = {frozenset(("joy", "sadness")), frozenset(("anger", "fear"))}
    every_pair = {frozenset(p) for p in itertools.combinations(PRIMARY_EMOTIONS[1:], 2)}
    assert pairs == every_pair - opposites and len(SECONDARY_EMOTIONS) == 13


def test_the_docstring_cites_plutchik_and_lists_each_dyad_with_its_level():
    doc = emotions.__doc__
    assert "Plutchik (2001). The nature of emotions. American Scientist 89(4)" in doc
    assert "Plutchik (1980)" in doc
    for name, ((first, second), level) in SECONDARIES.items():
        assert re.search(rf"^{name}\s+{first} \+ {second}\s+{level}\b", doc, re.MULTILINE), name


@pytest.mark.parametrize("term", [*PRIMARY_EMOTIONS[1:], *SECONDARY_EMOTIONS])
@pytest.mark.parametrize("intensity", [0.25, 1.0, 1.5])
def test_negation_flips_the_sign_of_every_weight(term, intensity):
    plain = parse_emotion(f"{term}:{intensity}")
    negated = parse_emotion(f"-{term}:{intensity}")
    assert negated.weights == tuple(-x + 0.0 for x in plain.weights)
    assert negated.kind == "negation" and negated.intensity == plain.intensity
    assert negated.valence == pytest.approx(-plain.valence) and negated.arousal == pytest.approx(-plain.arousal)


@pytest.mark.parametrize(
    "terms",
    [
        ["joy:0.5", "surprise:0.3"],
        ["delight:0.4", "-fear:0.2", "anger:0.1"],
        ["sadness:0.6", "despair:0.6"],
        ["-joy:0.25", "-sadness:0.25", "envy:0.5"],
        ["fear:0.2", "fear:0.3", "-fear:0.1"],
    ],
)
def test_a_mixture_is_the_sum_of_its_terms(terms):
    mixture = parse_emotion(",".join(terms))
    expected = np.sum([parse_emotion(t).weights for t in terms], axis=0)
    assert mixture.kind == "mixture"
    assert mixture.weights == pytest.approx(tuple(expected), abs=1e-12)
    assert position(mixture) == pytest.approx(sum(position(parse_emotion(t)) for t in terms))


@pytest.mark.parametrize("text", ["joy,-joy", "delight:0.6,-joy:0.3,-surprise:0.3", "joy:0.1,joy:0.2,-joy:0.3"])
def test_terms_that_cancel_resolve_to_no_emotion_with_a_note(text):
    spec = parse_emotion(text)
    assert spec.weights == w() and spec.intensity == 0.0 and spec.dominant == "neutral"
    assert spec.kind == "mixture" and "cancel" in spec.note


# Every point within 0.75 of neutral is reachable: the nearest edge of the reachable region
# (the primaries and their negations at MAX_INTENSITY) is about 0.92 from the origin.
GRID = [(round(v, 2), round(a, 2)) for v in np.arange(-1.0, 1.0001, 0.1) for a in np.arange(-1.0, 1.0001, 0.1)]
REACHABLE = [p for p in GRID if math.hypot(*p) <= 0.75]


@pytest.mark.parametrize(("valence", "arousal"), REACHABLE)
def test_va_points_inside_reach_are_reproduced_exactly(valence, arousal):
    spec = parse_emotion(f"va:{valence},{arousal}")
    assert spec.note == "" and spec.kind == "va"
    assert position(spec) == pytest.approx([valence, arousal], abs=1e-6)
    assert (spec.valence, spec.arousal) == pytest.approx((valence, arousal), abs=1e-6)
    assert spec.intensity <= MAX_INTENSITY
    assert sum(x != 0.0 for x in spec.weights) <= 2  # only the two bracketing directions


@pytest.mark.parametrize(("valence", "arousal"), GRID)
def test_every_va_point_is_reproduced_or_scaled_down_along_its_direction(valence, arousal):
    spec = parse_emotion(f"va:{valence},{arousal}")
    reached = position(spec)
    if not spec.note:
        assert reached == pytest.approx([valence, arousal], abs=1e-6)
        return
    assert spec.intensity == pytest.approx(MAX_INTENSITY) and math.hypot(valence, arousal) > 0.75
    assert reached[0] * arousal - reached[1] * valence == pytest.approx(0, abs=1e-9)
    assert reached @ np.array([valence, arousal]) > 0


def test_va_uses_the_two_directions_that_bracket_the_point():
    # joy (32 deg) and surprise (59 deg) bracket 45 deg, both with positive weight
    spec = parse_emotion("va:0.5,0.5")
    assert set(spec.as_dict()) == {"joy", "surprise"} and min(spec.as_dict().values()) > 0
    # -sadness (23 deg) and -disgust (330 deg) bracket 0 deg: pleasant and calm is "not sad, not disgusted"
    spec = parse_emotion("va:0.5,0")
    assert set(spec.as_dict()) == {"sadness", "disgust"} and max(spec.as_dict().values()) < 0
    # straight down lies between -surprise (239 deg) and -anger (311 deg)
    spec = parse_emotion("va:0,-0.5")
    assert set(spec.as_dict()) == {"surprise", "anger"} and max(spec.as_dict().values()) < 0


@pytest.mark.parametrize("point", [(1, 1), (0, 1), (0, -1), (-1, -1), (1, 0), (-1, 1), (1, -1)])
def test_va_points_beyond_reach_are_scaled_toward_neutral_with_a_note(point):
    spec = parse_emotion(f"va:{point[0]},{point[1]}")
    assert spec.intensity == pytest.approx(MAX_INTENSITY)
    assert "above the limit 1.5" in spec.note and "scaled toward neutral" in spec.note
    reached = position(spec)
    assert np.linalg.norm(reached) < np.linalg.norm(point)
    # same direction: parallel and pointing the same way
    assert reached[0] * point[1] - reached[1] * point[0] == pytest.approx(0, abs=1e-9)
    assert reached @ np.array(point) > 0
    shown = tuple(float(x) for x in spec.text.removeprefix("va:").split(","))
    assert shown == pytest.approx(tuple(reached), abs=0.0051)  # the text rounds to two decimals


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("joi", "joy"), ("suprise", "surprise"), ("sadnes", "sadness"), ("happyness", "happiness"),
     ("delite", "delight"), ("angr", "anger"), ("disapointment", "disappointment")],
)
def test_unknown_names_get_a_did_you_mean(typo, suggestion):
    with pytest.raises(EmotionSpecError, match=rf"unknown emotion '{typo}' \(did you mean [^)]*'{suggestion}'"):
        parse_emotion(f"{typo}:0.5")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("glee", "unknown emotion 'glee'"),
        ("joy surprise", "separate terms with commas"),
        ("joy:abc", "intensity 'abc' of 'joy' is not a number"),
        ("joy:-0.5", r"negative.*-joy:0\.5"),
        ("joy:nan", "NaN"),
        ("joy:1.6", r"above the limit 1\.5"),
        ("delight:inf", r"above the limit 1\.5"),
        ("joy:1,surprise:1", r"add up to intensity 2\.00.*the limit 1\.5"),
        ("va:0.5", "exactly two numbers.*got 1"),
        ("va", "exactly two numbers.*got 0"),
        ("va:0.5,0.5,0.5", "exactly two numbers.*got 3"),
        ("va:1.2,0", r"valence 1\.2 is outside \[-1, 1\]"),
        ("va:0,-1.01", r"arousal -1\.01 is outside \[-1, 1\]"),
        ("va:0,nan", r"arousal nan is outside"),
        ("va:x,0", "valence 'x' is not a number"),
        ("-va:0.5,0.5", "cannot be negated"),
        ("joy,va:0.1,0.2", "must be the whole spec"),
        ("neutral,joy", "cannot be mixed"),
        ("joy:0.5,neutral", "cannot be mixed"),
        ("neutral:0.5", "neutral takes no intensity"),
        ("neutral:0", "neutral takes no intensity"),
        ("-neutral", "neutral cannot be negated"),
        ("joy,", "empty term"),
        (",joy", "empty term"),
        ("joy,,sadness", "empty term"),
        ("joy:", "no intensity after it"),
        ("joy:0.5:0.2", "stray ':'"),
        (":0.5", "no emotion name"),
        ("-", "no emotion name"),
        ("joy:0,5", "stray comma"),
    ],
)
def test_malformed_specs_say_what_is_wrong_and_what_is_accepted(text, fragment):
    with pytest.raises(EmotionSpecError, match=fragment) as caught:
        parse_emotion(text)
    message = str(caught.value)
    assert isinstance(caught.value, EmosynthError)
    assert "\n" not in message  # the CLI prints errors as one line
    assert message.startswith(f"bad emotion spec {text!r}: ")
    assert message.endswith("V and A in [-1, 1])") and "Accepted: neutral | NAME[:INTENSITY]" in message


@pytest.mark.parametrize("value", [None, 0.7, ["joy"]])
def test_only_strings_and_specs_are_parsed(value):
    with pytest.raises(EmotionSpecError, match="is a string such as 'joy:0.7'"):
        parse_emotion(value)


def test_a_spec_passes_through_unchanged():
    spec = parse_emotion("delight:0.4")
    assert parse_emotion(spec) is spec


CANONICAL_CASES = [
    "joy", "joy:0.7", "fear:0.123", "sadness:1.5", "anger:0", "awe:0.3", "disapproval:0.45", "-joy:0.5",
    "-remorse:1.2", "joy:0.5,surprise:0.3", "delight:0.8,-fear:0.2", "joy,-joy", "happy:0.1,happy:0.2",
    "neutral", " Scared : 0.33 ", "envy:1e-3",
]


@pytest.mark.parametrize("text", CANONICAL_CASES)
def test_canonical_text_parses_back_to_the_same_spec(text):
    spec = parse_emotion(text)
    again = parse_emotion(spec.text)
    assert again == spec and again.text == spec.text and hash(again) == hash(spec)


@pytest.mark.parametrize("text", ["joy:0.8", "delight:0.9", "-anger:0.6", "joy:0.5,-fear:0.3", "va:0.3,0.2",
                                  "va:1,1", "neutral"])
@pytest.mark.parametrize("factor", [0.0, 0.25, 0.5, 1.0])
def test_scaled_multiplies_every_weight(text, factor):
    spec = parse_emotion(text)
    scaled = spec.scaled(factor)
    assert scaled.weights == pytest.approx(tuple(x * factor for x in spec.weights), abs=1e-12)
    assert scaled.kind == spec.kind
    assert scaled.intensity == pytest.approx(spec.intensity * factor)
    if spec.kind != "va":
        assert parse_emotion(scaled.text) == scaled
    else:
        assert position(scaled) == pytest.approx(position(spec) * factor)


def test_scaled_gives_the_same_spec_as_writing_the_lower_intensity():
    assert parse_emotion("joy:0.8").scaled(0.5) == parse_emotion("joy:0.4")
    assert parse_emotion("delight:0.6").scaled(2) == parse_emotion("delight:1.2")
    assert parse_emotion("joy:0.5,-fear:0.3").scaled(0.5).text == "joy:0.25,-fear:0.15"


@pytest.mark.parametrize(("factor", "fragment"), [(-1, "finite number >= 0"), (math.nan, "finite number >= 0"),
                                                  (math.inf, "finite number >= 0"), (2.0, "above the limit")])
def test_scaled_refuses_bad_factors(factor, fragment):
    with pytest.raises(EmotionSpecError, match=fragment):
        parse_emotion("joy:0.8").scaled(factor)


@pytest.mark.parametrize("text", [*CANONICAL_CASES, "va:0.6,0.4", "va:-1,0.2"])
def test_to_dict_round_trips_through_json_and_from_weights(text):
    spec = parse_emotion(text)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["text"] == spec.text and data["kind"] == spec.kind and data["note"] == spec.note
    assert data["intensity"] == spec.intensity and data["dominant"] == spec.dominant
    assert (data["valence"], data["arousal"]) == (spec.valence, spec.arousal)
    rebuilt = EmotionSpec.from_weights(data["weights"])
    assert rebuilt.weights == spec.weights
    assert parse_emotion(rebuilt.text) == rebuilt


@pytest.mark.parametrize(
    ("weights", "text", "kind"),
    [
        ({}, "neutral", "neutral"),
        ({"neutral": 0.0, "joy": 0.0}, "neutral", "neutral"),
        ({"surprise": 0.3, "Happy": 0.5}, "joy:0.50,surprise:0.30", "mixture"),
        ({"sad": -0.2}, "-sadness:0.20", "negation"),
        ({"fear": np.float64(0.7)}, "fear:0.70", "primary"),
    ],
)
def test_from_weights_builds_the_canonical_spec(weights, text, kind):
    spec = EmotionSpec.from_weights(weights)
    assert spec.text == text and spec.kind == kind


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ({"neutral": 0.5}, "neutral's weight must be 0"),
        ({"delight": 0.5}, "is a secondary emotion, not a primary"),
        ({"joi": 0.5}, "did you mean 'joy'"),
        ({"joy": math.nan}, "finite number"),
        ({"joy": "lots"}, "must be a number"),
        ({"joy": 1.0, "fear": -1.0}, "above the limit"),
    ],
)
def test_from_weights_refuses_what_cannot_be_a_spec(weights, fragment):
    with pytest.raises(EmotionSpecError, match=fragment):
        EmotionSpec.from_weights(weights)


def test_weight_of_as_dict_intensity_and_dominant():
    spec = parse_emotion("-joy:0.5,sadness:0.25,delight:0.4")
    assert spec.weight_of("joy") == pytest.approx(-0.3) and spec.weight_of("Happy") == spec.weight_of("joy")
    assert spec.weight_of("surprise") == 0.2 and spec.weight_of("fear") == 0.0
    assert spec.as_dict() == pytest.approx({"joy": -0.3, "sadness": 0.25, "surprise": 0.2})
    assert spec.intensity == pytest.approx(0.75)
    assert spec.dominant == "sadness"
    assert parse_emotion("delight").dominant == "joy"  # a tie goes to the first in PRIMARY_EMOTIONS order
    assert parse_emotion("-joy:0.5").dominant == "neutral"
    with pytest.raises(EmotionSpecError, match="secondary emotion, not a primary"):
        spec.weight_of("delight")
    with pytest.raises(EmotionSpecError, match="did you mean 'joy'"):
        spec.weight_of("joi")


def test_valence_and_arousal_are_the_weighted_circumplex_position_clipped():
    assert (parse_emotion("joy").valence, parse_emotion("joy").arousal) == (0.81, 0.51)
    mix = parse_emotion("joy:0.5,-sadness:0.5")
    assert mix.valence == pytest.approx(0.5 * 0.81 + 0.5 * 0.63)
    assert mix.arousal == pytest.approx(0.5 * 0.51 + 0.5 * 0.27)
    assert parse_emotion("joy:1.5").valence == 1.0  # 1.215 before clipping
    assert parse_emotion("neutral").valence == 0.0 and parse_emotion("neutral").arousal == 0.0


def test_specs_are_frozen_and_validated():
    spec = parse_emotion("joy")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.text = "sadness"  # type: ignore[misc]
    assert str(spec) == "joy:1.00"
    assert EmotionSpec(text="x", weights=[0, 1, 0, 0, 0, 0, -0.0], kind="primary").weights == w(joy=1.0)
    with pytest.raises(EmotionSpecError, match="one weight per primary"):
        EmotionSpec(text="x", weights=(0.0, 1.0), kind="primary")
    with pytest.raises(EmotionSpecError, match="neutral's weight must be 0"):
        EmotionSpec(text="x", weights=(1.0,) + w()[1:], kind="primary")
    with pytest.raises(EmotionSpecError, match="kind 'happy' is not one of"):
        EmotionSpec(text="x", weights=w(), kind="happy")
    assert EmotionSpec.neutral() == parse_emotion("neutral")


def test_grammar_documents_every_form_with_examples():
    for form in ("neutral", "NAME:INTENSITY", "-NAME", "TERM,TERM", "va:V,A", str(MAX_INTENSITY)):
        assert form in GRAMMAR
    for form in ("``neutral``", "``NAME:INTENSITY``", "``-TERM``", "``TERM,TERM,...``", "``va:V,A``"):
        assert form in emotions.__doc__
    examples = re.findall(r"(?<=\s)-?[a-z]+:[-0-9.,a-z:]*[0-9]", GRAMMAR)
    assert {"joy:0.7", "-joy:0.5", "joy:0.5,surprise:0.3", "va:0.6,0.4"} <= set(examples)
    for example in examples:
        parse_emotion(example)  # every example in the grammar parses
