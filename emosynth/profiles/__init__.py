"""How human speakers change their voice from neutral to each emotion, measured on RAVDESS.

The voice's emotion controls and the speech augmenter are fitted to these numbers, so they say
how far real people move each prosodic cue, not how far a designer guessed they do.

Method, in three steps:

1. :func:`measure_clip` reads one clip into :class:`ProsodyMeasures`: F0 level, range and spread
   (WORLD's Harvest pitch tracker, or DIO + StoneMask, 5 ms frames), speaking duration and voiced-segment
   rate (energy VAD), loudness (RMS over active frames), spectral tilt (alpha ratio, Hammarberg
   index), harmonicity (autocorrelation HNR) and the voiced fraction.
2. :func:`measure_corpus` does that for every clip, in worker processes.
3. :func:`human_profiles` expresses each cue of each clip relative to the *same actor's neutral
   rendition of the same statement* (RAVDESS has fixed sentences, so the duration ratio is a
   tempo measure), averages those per actor, emotion and intensity, and aggregates over actors:
   mean, SD across actors, a t-based 95% confidence interval of the mean, and per-gender means.

Only RAVDESS ``neutral`` (emotion code 01) is the reference. ``calm`` (02) is left out here,
although :mod:`emosynth.recognizer.corpus` merges it into neutral for classification: calm is an
acted emotion of its own (RAVDESS records it at two intensities); measured with this module,
the 20 actors' calm is 2.9 dB softer (95% CI +-1.3), 1.24x longer (+-0.08) and 1.1 st narrower
in F0 range (+-0.9) than their neutral, so pooling it would make every emotion look louder and
faster than it is. The synthesizer's neutral is a plain reading, which RAVDESS neutral is.

``python -m emosynth.profiles --data ../shared/data/ravdess --out emosynth/data/human_prosody_profiles.json``
recomputes the shipped file. The numbers are derived from RAVDESS (Livingstone & Russo 2018),
licensed CC BY-NC-SA 4.0, and carry that licence.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.stats import t as student_t

from ..errors import CorpusError, EmosynthError, ModelError
from ..io import write_text_atomic
from ..recognizer.corpus import LabelledClip, read_corpus
from .measure import (  # noqa: F401 - re-exported
    ACTIVE_RANGE_DB,
    CorpusMeasures,
    F0_CEIL_HZ,
    F0_FLOOR_HZ,
    HIGH_PASS_HZ,
    LEVELS,
    MEASURE_FIELDS,
    MIN_ACTIVE_RUN_MS,
    PROFILE_EMOTIONS,
    ProsodyMeasures,
    SCHEMA,
    TRACKERS,
    _CITATION,
    _DATA_FILE,
    _LICENCE,
    _ROUND_DECIMALS,
    measure_corpus,
    measure_clip,
    Tracker,
)

__all__ = [
    "ProsodyMeasures",
    "CueDefinition",
    "CUES",
    "CueStats",
    "EmotionProfile",
    "CorpusMeasures",
    "RavdessName",
    "LEVELS",
    "PROFILE_EMOTIONS",
    "measure_clip",
    "measure_corpus",
    "parse_ravdess_name",
    "human_profiles",
    "neutral_baseline",
    "profiles_document",
    "profiles_from_document",
    "dumps_document",
    "measures_from_document",
    "load_profiles_document",
    "load_human_profiles",
    "format_profiles",
    "main",
]

# -- RAVDESS file names ----------------------------------------------------------------------
_RAVDESS_NAME = re.compile(r"^03-01-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_RAVDESS_CODES = {
    "01": "neutral", "02": "calm", "03": "joy", "04": "sadness",
    "05": "anger", "06": "fear", "07": "disgust", "08": "surprise",
}
_INTENSITIES = {"01": "normal", "02": "strong"}


@dataclass(frozen=True)
class RavdessName:
    """Fields of a RAVDESS speech file name ``03-01-EE-II-SS-RR-AA``."""

    emotion: str  # shared vocabulary, or "calm" (kept apart here)
    intensity: str  # "normal" or "strong"
    statement: int  # 1 "Kids are talking by the door", 2 "Dogs are sitting by the door"
    repetition: int
    actor: int  # odd male, even female

    @property
    def gender(self) -> str:
        return "male" if self.actor % 2 else "female"


def parse_ravdess_name(path: str | os.PathLike[str]) -> RavdessName | None:
    """The fields of a RAVDESS speech clip's file name, or None for any other name."""
    m = _RAVDESS_NAME.match(Path(path).stem)
    if not m or m.group(1) not in _RAVDESS_CODES or m.group(2) not in _INTENSITIES:
        return None
    return RavdessName(
        emotion=_RAVDESS_CODES[m.group(1)], intensity=_INTENSITIES[m.group(2)],
        statement=int(m.group(3)), repetition=int(m.group(4)), actor=int(m.group(5)),
    )


# -- cues relative to neutral, and their aggregation -----------------------------------------
@dataclass(frozen=True)
class CueDefinition:
    """A cue of an emotional clip relative to the same actor's neutral of the same statement."""

    name: str
    measure: str  # the ProsodyMeasures field it is computed from
    kind: Literal["difference", "ratio"]  # emotion - neutral, or emotion / neutral
    unit: str
    meaning: str


CUES: tuple[CueDefinition, ...] = (
    CueDefinition("f0_shift_st", "f0_median_st", "difference", "st",
                  "median F0 change; > 0 is higher"),
    CueDefinition("f0_range_diff_st", "f0_range_st", "difference", "st",
                  "change of the 5-95th percentile F0 span"),
    CueDefinition("f0_range_ratio", "f0_range_st", "ratio", "x",
                  "F0 span (semitones) relative to neutral; scale F0 deviations around the median by this"),
    CueDefinition("f0_sd_diff_st", "f0_sd_st", "difference", "st", "change of the F0 standard deviation"),
    CueDefinition("duration_ratio", "duration_s", "ratio", "x",
                  "speaking duration relative to neutral; > 1 is slower"),
    CueDefinition("voiced_segment_rate_ratio", "voiced_segments_per_s", "ratio", "x",
                  "voiced segments per second relative to neutral; > 1 is faster articulation"),
    CueDefinition("level_diff_db", "level_db", "difference", "dB", "RMS level change; > 0 is louder"),
    CueDefinition("alpha_ratio_diff_db", "alpha_ratio_db", "difference", "dB",
                  "alpha ratio change; > 0 is more high-frequency energy (more vocal effort)"),
    CueDefinition("hammarberg_diff_db", "hammarberg_db", "difference", "dB",
                  "Hammarberg index change; < 0 is a flatter spectrum (more vocal effort)"),
    CueDefinition("hnr_diff_db", "hnr_db", "difference", "dB", "HNR change; < 0 is rougher or breathier"),
    CueDefinition("voiced_fraction_diff", "voiced_fraction", "difference", "fraction",
                  "change of the voiced share of the speaking span"),
    CueDefinition("f0_slope_diff_st_per_s", "f0_slope_st_per_s", "difference", "st/s",
                  "change of the F0 contour's trend (line fitted over the utterance); > 0 rises more or falls less"),
)
_CUE_BY_NAME = {c.name: c for c in CUES}


@dataclass(frozen=True)
class CueStats:
    """One cue aggregated over actors: each actor contributes one value (their mean over clips)."""

    mean: float
    sd: float  # across actors (n - 1 denominator); NaN for one actor
    ci95_low: float  # t-based 95% confidence interval of the mean
    ci95_high: float
    n_actors: int
    male_mean: float  # mean over odd-numbered actors; NaN if none
    female_mean: float  # mean over even-numbered actors; NaN if none
    n_male: int
    n_female: int


@dataclass(frozen=True)
class EmotionProfile:
    """How actors move each cue from neutral to ``emotion``, by level ("pooled", "normal", "strong")."""

    emotion: str
    levels: Mapping[str, Mapping[str, CueStats]]  # level -> cue name -> stats

    @property
    def pooled(self) -> Mapping[str, CueStats]:
        return self.levels["pooled"]

    def mean(self, cue: str, level: str = "pooled") -> float:
        """Mean shift of ``cue`` over actors at ``level``."""
        return self.levels[level][cue].mean


def _cue_value(cue: CueDefinition, clip: ProsodyMeasures, reference: float) -> float:
    value = getattr(clip, cue.measure)
    if cue.kind == "difference":
        return value - reference
    return value / reference if reference > 0 else math.nan


def _actor_mean(cue: CueDefinition, values: list[float]) -> float:
    """An actor's value of a cue: arithmetic mean of differences, geometric mean of ratios."""
    v = np.array([x for x in values if math.isfinite(x) and (cue.kind == "difference" or x > 0)])
    if v.size == 0:
        return math.nan
    return float(np.mean(v)) if cue.kind == "difference" else float(np.exp(np.mean(np.log(v))))


def _stats(per_actor: Mapping[int, float]) -> CueStats:
    """Mean, SD, t-based 95% CI and per-gender means of one value per actor."""
    actors = sorted(a for a, v in per_actor.items() if math.isfinite(v))
    v = np.array([per_actor[a] for a in actors])
    n = len(v)
    mean = float(np.mean(v)) if n else math.nan
    sd = float(np.std(v, ddof=1)) if n > 1 else math.nan
    half = float(student_t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 else math.nan
    male = [per_actor[a] for a in actors if a % 2]
    female = [per_actor[a] for a in actors if not a % 2]
    return CueStats(
        mean=mean, sd=sd, ci95_low=mean - half, ci95_high=mean + half, n_actors=n,
        male_mean=float(np.mean(male)) if male else math.nan,
        female_mean=float(np.mean(female)) if female else math.nan,
        n_male=len(male), n_female=len(female),
    )


def _ravdess_rows(
    measures: Sequence[ProsodyMeasures], clips: Sequence[LabelledClip]
) -> list[tuple[RavdessName, ProsodyMeasures]]:
    if len(measures) != len(clips):
        raise ValueError(f"{len(measures)} measures for {len(clips)} clips; they must align")
    rows = [(parse_ravdess_name(c.path), m) for c, m in zip(clips, measures)]
    named = [(n, m) for n, m in rows if n is not None]
    if not named:
        raise CorpusError("no clip has a RAVDESS speech file name (03-01-EE-II-SS-RR-AA); "
                          "profiles are measured against each actor's neutral of the same statement")
    return named


def _neutral_references(
    rows: list[tuple[RavdessName, ProsodyMeasures]],
) -> dict[tuple[int, int], dict[str, float]]:
    """(actor, statement) -> mean of each measure over that actor's neutral renditions of it."""
    grouped: dict[tuple[int, int], list[ProsodyMeasures]] = defaultdict(list)
    for name, m in rows:
        if name.emotion == "neutral":
            grouped[(name.actor, name.statement)].append(m)
    return {key: {f: float(np.mean([getattr(m, f) for m in ms])) for f in MEASURE_FIELDS}
            for key, ms in grouped.items()}


def human_profiles(
    measures: Sequence[ProsodyMeasures], clips: Sequence[LabelledClip]
) -> dict[str, EmotionProfile]:
    """Profiles of the six non-neutral emotions, from RAVDESS clips and their aligned measures.

    Each emotional clip is read against the mean of the same actor's neutral renditions of the
    same statement (two in RAVDESS); clips without such a reference, calm clips and clips with
    other file names are left out. An actor's value is the mean over their clips (geometric for
    ratios); :class:`CueStats` aggregate those over actors. An emotion no actor has is absent.
    """
    rows = _ravdess_rows(measures, clips)
    references = _neutral_references(rows)
    # (emotion, level, cue) -> actor -> clip values
    values: dict[tuple[str, str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, m in rows:
        reference = references.get((name.actor, name.statement))
        if name.emotion not in PROFILE_EMOTIONS or reference is None:
            continue
        for cue in CUES:
            v = _cue_value(cue, m, reference[cue.measure])
            for level in ("pooled", name.intensity):
                values[(name.emotion, level, cue.name)][name.actor].append(v)
    profiles = {}
    for emotion in PROFILE_EMOTIONS:
        levels: dict[str, dict[str, CueStats]] = {}
        for level in LEVELS:
            per_cue = {
                cue.name: _stats({a: _actor_mean(cue, vs) for a, vs in actors.items()})
                for cue in CUES if (actors := values.get((emotion, level, cue.name)))
            }
            if per_cue:
                levels[level] = per_cue
        if levels:
            profiles[emotion] = EmotionProfile(emotion=emotion, levels=levels)
    return profiles


def neutral_baseline(
    measures: Sequence[ProsodyMeasures], clips: Sequence[LabelledClip]
) -> dict[str, dict[str, float]]:
    """Absolute neutral measures: group ("all", "male", "female") -> field -> mean over actors.

    Each actor contributes the mean over their RAVDESS neutral clips, so the numbers say where
    the shifts start from (e.g. the F0 a neutral male or female voice has).
    """
    per_actor: dict[int, list[ProsodyMeasures]] = defaultdict(list)
    for name, m in _ravdess_rows(measures, clips):
        if name.emotion == "neutral":
            per_actor[name.actor].append(m)
    groups = {"all": list(per_actor), "male": [a for a in per_actor if a % 2],
              "female": [a for a in per_actor if not a % 2]}
    out = {}
    for group, actors in groups.items():
        if actors:
            means = [{f: np.mean([getattr(m, f) for m in per_actor[a]]) for f in MEASURE_FIELDS} for a in actors]
            out[group] = {"n_actors": len(actors),
                          **{f: float(np.mean([m[f] for m in means])) for f in MEASURE_FIELDS}}
    return out


# -- the shipped file -------------------------------------------------------------------------
def _finite_or_none(x: float) -> float | None:
    return round(float(x), 6) if math.isfinite(x) else None  # JSON has no NaN


def _stats_dict(s: CueStats) -> dict[str, Any]:
    return {
        "mean": _finite_or_none(s.mean), "sd": _finite_or_none(s.sd),
        "ci95": [_finite_or_none(s.ci95_low), _finite_or_none(s.ci95_high)], "n_actors": s.n_actors,
        "male": {"mean": _finite_or_none(s.male_mean), "n_actors": s.n_male},
        "female": {"mean": _finite_or_none(s.female_mean), "n_actors": s.n_female},
    }


def _stats_from_dict(d: Mapping[str, Any]) -> CueStats:
    def num(x: Any) -> float:
        return math.nan if x is None else float(x)

    return CueStats(
        mean=num(d["mean"]), sd=num(d["sd"]), ci95_low=num(d["ci95"][0]), ci95_high=num(d["ci95"][1]),
        n_actors=int(d["n_actors"]), male_mean=num(d["male"]["mean"]),
        female_mean=num(d["female"]["mean"]), n_male=int(d["male"]["n_actors"]),
        n_female=int(d["female"]["n_actors"]),
    )


def _method(tracker: str) -> str:
    f0 = "WORLD Harvest" if tracker == "harvest" else "WORLD DIO + StoneMask"
    return (
        f"Per clip (16 kHz mono): F0 by {f0} (pyworld), 5 ms frames, search range "
        f"{F0_FLOOR_HZ:.0f}-{F0_CEIL_HZ:.0f} Hz, run on the speaking span +-100 ms. Active frames: "
        f"20 ms RMS of the {HIGH_PASS_HZ:.0f} Hz high-passed signal within {ACTIVE_RANGE_DB:.0f} dB of "
        "the clip's loudest frame; the speaking span runs from the first to the last active run of "
        f">= {MIN_ACTIVE_RUN_MS:.0f} ms. A frame is voiced when the tracker gives an F0, WORLD D4C's "
        "voicing test calls it periodic, it is active and inside the span, and its F0 is within an "
        "octave of the clip's median voiced F0; F0, tilt and HNR use steady voiced frames (10 ms in "
        "from each end of a voiced run). Tilt from 32 ms Hann spectra; HNR "
        "by windowed, window-corrected autocorrelation (Boersma 1993) over 6 pitch periods. Per "
        "emotional clip, each cue is taken relative to the mean of the same actor's RAVDESS-neutral "
        "renditions of the same statement (difference, or ratio for *_ratio cues); calm is not used. "
        "Per actor, the mean over their clips (geometric mean for ratios); then over actors: mean, "
        "SD (n-1), t-based 95% CI of the mean, and means over male (odd) and female (even) actors. "
        "'pooled' holds both intensities; 'normal' and 'strong' RAVDESS intensity 01 and 02. "
        "Aggregates are computed from the per-clip measures as stored here (rounded to "
        f"{_ROUND_DECIMALS} decimals), so they can be recomputed from this file."
    )


def profiles_document(
    result: CorpusMeasures, *, corpus: str = "RAVDESS speech, audio only, 16 kHz mono FLAC of the 48 kHz originals"
) -> dict[str, Any]:
    """The JSON document shipped as ``emosynth/data/human_prosody_profiles.json``.

    Rounds the per-clip measures first and computes every aggregate from the rounded ones, so
    the document is self-consistent (:func:`profiles_from_document` of it reproduces it).
    """
    rounded = [m.rounded() for m in result.measures]
    profiles = human_profiles(rounded, result.clips)
    names = [parse_ravdess_name(c.path) for c in result.clips]
    actors = sorted({n.actor for n in names if n is not None})
    return {
        "schema": SCHEMA,
        "metadata": {
            "title": "How human actors change their voice from neutral to each emotion",
            "licence": _LICENCE,
            "source": _CITATION,
            "corpus": corpus,
            "actors": actors,
            "n_clips_measured": len(rounded),
            "n_clips_skipped": len(result.skipped),
            "reference": "each actor's RAVDESS neutral (code 01) rendition of the same statement; "
                         "calm (02) is excluded",
            "method": _method(result.tracker),
            "pitch_tracker": result.tracker,
            "sample_rate_hz_expected": 16000,
            "levels": list(LEVELS),
            "measures": {f.name: _field_comment(f.name) for f in fields(ProsodyMeasures)},
            "cues": {c.name: {"from": c.measure, "kind": c.kind, "unit": c.unit, "meaning": c.meaning}
                     for c in CUES},
        },
        "profiles": {
            e: {level: {cue: _stats_dict(s) for cue, s in per_cue.items()} for level, per_cue in p.levels.items()}
            for e, p in profiles.items()
        },
        "neutral_baseline": {group: {k: _finite_or_none(v) if k != "n_actors" else v for k, v in values.items()}
                             for group, values in neutral_baseline(rounded, result.clips).items()},
        "clips": {
            "fields": list(MEASURE_FIELDS),
            "rows": {c.path.stem: list(m.as_tuple()) for c, m in zip(result.clips, rounded)},
        },
    }


def _field_comment(name: str) -> str:
    return {
        "f0_median_hz": "median F0 over voiced frames, Hz",
        "f0_median_st": "median F0, semitones re 100 Hz",
        "f0_range_st": "95th minus 5th percentile of F0, semitones",
        "f0_sd_st": "standard deviation of F0, semitones",
        "duration_s": "first to last active frame, s",
        "voiced_segments_per_s": "voiced runs >= 15 ms per second of speaking duration",
        "level_db": "RMS level over active frames, dBFS",
        "alpha_ratio_db": "10 log10(energy 1-5 kHz / energy 50-1000 Hz), mean over voiced frames, dB",
        "hammarberg_db": "strongest peak 0-2 kHz minus strongest peak 2-5 kHz, mean over voiced frames, dB",
        "hnr_db": "autocorrelation harmonics-to-noise ratio, mean over voiced frames, dB",
        "voiced_fraction": "voiced frames / frames of the speaking span",
        "f0_slope_st_per_s": "slope of a line fitted to voiced F0 (semitones) over time, semitones per second",
    }[name]


def dumps_document(doc: Mapping[str, Any]) -> str:
    """JSON text of a profiles document: nested, but any object or list that fits on one line of
    at most 200 characters is written on one (one line per cue's statistics, per clip row)."""
    return _dumps(doc, 0) + "\n"


def _dumps(value: Any, depth: int) -> str:
    flat = json.dumps(value, allow_nan=False)
    if len(flat) + depth <= 200 or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(str(k))}: {_dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    items = [f"{pad}{_dumps(v, depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"


def measures_from_document(doc: Mapping[str, Any]) -> tuple[list[ProsodyMeasures], list[LabelledClip]]:
    """The per-clip measures stored in a profiles document, with clips rebuilt from their names."""
    table = doc["clips"]
    if list(table["fields"]) != list(MEASURE_FIELDS):
        raise ModelError(f"profiles file has clip fields {table['fields']}, expected {list(MEASURE_FIELDS)}")
    clips, measures = [], []
    for stem, row in table["rows"].items():
        name = parse_ravdess_name(stem)
        if name is None:
            raise ModelError(f"profiles file holds a clip that is not a RAVDESS name: {stem}")
        emotion = "neutral" if name.emotion == "calm" else name.emotion
        clips.append(LabelledClip(path=Path(f"{stem}.flac"), emotion=emotion, speaker=f"ravdess-{name.actor:02d}"))
        measures.append(ProsodyMeasures(*map(float, row)))
    return measures, clips


def profiles_from_document(doc: Mapping[str, Any]) -> dict[str, EmotionProfile]:
    """The profiles of a document as :class:`EmotionProfile` objects."""
    return {
        emotion: EmotionProfile(
            emotion=emotion,
            levels={level: {cue: _stats_from_dict(s) for cue, s in per_cue.items()}
                    for level, per_cue in by_level.items()},
        )
        for emotion, by_level in doc["profiles"].items()
    }


def _default_path() -> Path:
    return Path(str(resources.files("emosynth") / "data" / _DATA_FILE))


def load_profiles_document(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The whole profiles document (metadata, profiles, neutral baseline, per-clip measures).

    ``path`` defaults to the file shipped inside the package. Raises :class:`ModelError` when
    it is missing, is not JSON, or has another schema.
    """
    p = Path(path) if path is not None else _default_path()
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{p}: no such profiles file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{p}: not a JSON profiles file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ModelError(f"{p}: profiles schema {found!r}, expected {SCHEMA!r}")
    return doc


def load_human_profiles(path: str | os.PathLike[str] | None = None) -> dict[str, EmotionProfile]:
    """Emotion -> :class:`EmotionProfile`, from the shipped file (or ``path``)."""
    return profiles_from_document(load_profiles_document(path))


# -- display ------------------------------------------------------------------------------------
def _signed(x: float, digits: int) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.{digits}f}"


def format_profiles(
    profiles: Mapping[str, EmotionProfile], *, level: str = "pooled", cues: Sequence[str] | None = None
) -> str:
    """A plain-text table: one row per cue, one column per emotion, "mean [95% CI]".

    Ratios are shown as plain numbers (1.00 = as neutral), differences with a sign.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    names = list(cues) if cues is not None else [c.name for c in CUES]
    unknown = [c for c in names if c not in _CUE_BY_NAME]
    if unknown:
        raise ValueError(f"unknown cue(s) {', '.join(unknown)}; known: {', '.join(_CUE_BY_NAME)}")
    emotions = [e for e in PROFILE_EMOTIONS if e in profiles and level in profiles[e].levels]

    def cell(e: str, cue: CueDefinition) -> str:
        s = profiles[e].levels[level].get(cue.name)
        if s is None:
            return "-"
        if cue.kind == "ratio":
            return f"{s.mean:.2f} [{s.ci95_low:.2f},{s.ci95_high:.2f}]"
        digits = 3 if cue.unit == "fraction" else 1
        return f"{_signed(s.mean, digits)} [{_signed(s.ci95_low, digits)},{_signed(s.ci95_high, digits)}]"

    header = ["cue (unit)"] + emotions
    rows = [[f"{c} ({_CUE_BY_NAME[c].unit})"] + [cell(e, _CUE_BY_NAME[c]) for e in emotions] for c in names]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    n_actors = {profiles[e].levels[level][names[0]].n_actors for e in emotions if names[0] in profiles[e].levels[level]}
    which = "both intensities" if level == "pooled" else f"{level} intensity"
    lines = [
        (f"Change from neutral, {which}; mean over actors [95% CI]; "
         f"actors per cell: {', '.join(map(str, sorted(n_actors))) or '-'}"),
        "  ".join(h.ljust(w) for h, w in zip(header, widths)),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


# -- python -m emosynth.profiles ----------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Measure a RAVDESS folder and write the profiles JSON atomically; prints the pooled table."""
    parser = argparse.ArgumentParser(prog="python -m emosynth.profiles", description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True, help="RAVDESS speech folder (Actor_01 ...)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--tracker", choices=TRACKERS, default="harvest",
                        help="pitch tracker (default harvest, as shipped; dio is faster, rougher)")
    args = parser.parse_args(argv)
    try:
        clips = [c for c in read_corpus(args.data)
                 if (n := parse_ravdess_name(c.path)) is not None and n.emotion != "calm"]
        if not clips:
            raise CorpusError(f"{args.data}: no RAVDESS speech clips (03-01-EE-II-SS-RR-AA) found")
        start = time.perf_counter()
        result = measure_corpus(clips, workers=args.workers, progress=sys.stderr.isatty(), tracker=args.tracker)
        seconds = time.perf_counter() - start
        doc = profiles_document(result)
        write_text_atomic(args.out, dumps_document(doc))
    except EmosynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for reason in result.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(format_profiles(profiles_from_document(doc)))
    print(f"\n{len(result.measures)} clips measured in {seconds:.0f} s; wrote {args.out}")
    return 0


