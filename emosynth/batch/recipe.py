"""Batch recipes: what dataset to make, read from YAML and checked before any work is done.

A recipe names the texts, the voices, the emotion grid, how many clips per condition, a seed,
the outputs and the quality gate (see ``recipes/`` and docs/batch.md for the whole schema)::

    name: ser-grid
    seed: 0
    texts: {builtin: neutral-en}          # or {file: my_texts.txt} or ["...", "..."] ({list: [...]} too)
    voices: [kumo, alpha]
    # or, instead of texts and voices, emotional variants of real recordings (emosynth augment):
    # recordings: my_corpus/                 (speaker = each file's folder under it)
    # keep_speaker: 0.85                     (augmenting: pitch moved less where it would cost the speaker)
    emotions:
      neutral: true
      primaries: all                      # or a list: [joy, anger]
      intensities: [0.5, 1.0]
      specs: ["joy:0.5,surprise:0.3", "-joy:0.5", delight]
      va_grid: {valence: [-0.6, 0.6], arousal: [-0.5, 0.5]}
    per_condition: 2
    output: {format: flac, sample_rate: 16000, face: false}
    quality_gate: {min_probability: 0.3, action: flag}

Every mistake is reported with its place in the recipe and what is accepted.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..emotions import PRIMARY_EMOTIONS, EmotionSpec, parse_emotion
from ..errors import EmosynthError, RecipeError
from ..io import read_user_text
from ..voice.voices import load_voice

__all__ = ["Recipe", "OutputSpec", "QualityGate", "load_recipe", "parse_recipe", "builtin_text_sets",
           "SAMPLE_RATES", "AUDIO_FORMATS"]

SAMPLE_RATES = (16000, 22050, 24000, 44100, 48000)
AUDIO_FORMATS = ("flac", "wav")
GATE_ACTIONS = ("flag", "drop")
_TOP_KEYS = ("name", "description", "seed", "texts", "voices", "recordings", "emotions", "per_condition", "output",
             "quality_gate", "keep_speaker")
_EMOTION_KEYS = ("neutral", "primaries", "intensities", "specs", "va_grid")
_OUTPUT_KEYS = ("format", "sample_rate", "face")
_GATE_KEYS = ("min_probability", "action")
_TEXT_KEYS = ("builtin", "file", "list")


@dataclass(frozen=True)
class OutputSpec:
    format: str = "flac"
    sample_rate: int = 24000
    face: bool = False  # also write each clip's face curves (EmoTalk-order .npy, Live Link Face .csv)


@dataclass(frozen=True)
class QualityGate:
    """Clips whose target emotion the recognizer hears with less than ``min_probability`` are
    flagged (kept, ``passed`` false) or dropped (no file, counted in the card)."""

    min_probability: float = 0.0
    action: str = "flag"


@dataclass(frozen=True)
class Recipe:
    name: str
    seed: int
    texts: tuple[str, ...]
    text_source: str  # where the texts came from, for the dataset card
    voices: tuple[str, ...]
    emotions: tuple[EmotionSpec, ...]
    per_condition: int
    output: OutputSpec
    quality_gate: QualityGate
    description: str = ""
    source_text: str = ""  # the recipe as written, copied into the dataset card
    recordings: tuple[Path, ...] = ()  # augmenting real recordings instead of speaking texts
    recordings_root: Path | None = None
    keep_speaker: float | None = None  # augmenting: the speaker similarity each variant keeps (emosynth.augment)

    @property
    def n_clips(self) -> int:
        if self.recordings:
            return len(self.recordings) * len(self.emotions)
        return len(self.voices) * len(self.emotions) * self.per_condition


def builtin_text_sets() -> dict[str, Path]:
    """Name -> file of the text sets shipped in emosynth/data/texts."""
    folder = resources.files("emosynth") / "data" / "texts"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".txt")}


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read and check a recipe file."""
    p = Path(path)
    return parse_recipe(read_user_text(p, RecipeError, "recipe file"), base=p.parent, where=str(p))


def parse_recipe(text: str, *, base: Path = Path("."), where: str = "recipe") -> Recipe:
    """Check a recipe given as YAML text; relative text files are found from ``base``."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: a recipe is a YAML mapping with keys {', '.join(_TOP_KEYS)}")
    _known(data, _TOP_KEYS, where, "")
    augmenting = "recordings" in data
    required = ("name", "recordings", "emotions") if augmenting else ("name", "texts", "voices", "emotions")
    for key in required:
        if key not in data:
            raise RecipeError(f"{where}: missing '{key}' (required: name, texts, voices, emotions; or name, "
                              "recordings, emotions to augment recordings)")
    if augmenting and ("texts" in data or "voices" in data):
        raise RecipeError(f"{where}: 'recordings' augments real speech, so it takes no 'texts' or 'voices'")
    if "keep_speaker" in data and not augmenting:
        raise RecipeError(f"{where}: 'keep_speaker' applies to augmenting 'recordings'; the voices' own speech "
                          "keeps its speaker by construction")
    name = data["name"]
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\n"):
        raise RecipeError(f"{where}: 'name' must be a one-line string without slashes, got {name!r}")
    if augmenting:
        from ..augment import require_world

        require_world()  # refused before any work, not once per recording
        keep_speaker = _keep_speaker(data.get("keep_speaker"), where)
        root, recordings = _recordings(data["recordings"], base, where)
        texts, text_source, voices = (), "the recordings' own words", ()
    else:
        root, recordings, keep_speaker = None, (), None
        texts, text_source = _texts(data["texts"], base, where)
        voices = _voices(data["voices"], where)
    output = _output(data.get("output", {}), where)
    return Recipe(
        name=name.strip(),
        description=str(data.get("description", "")).strip(),
        seed=_int(data.get("seed", 0), where, "seed", minimum=0),
        texts=texts,
        text_source=text_source,
        voices=voices,
        recordings=recordings,
        recordings_root=root,
        keep_speaker=keep_speaker,
        emotions=_emotions(data["emotions"], where),
        per_condition=_int(data.get("per_condition", 1), where, "per_condition", minimum=1),
        output=output,
        quality_gate=_gate(data.get("quality_gate", {}), where),
        source_text=text,
    )


# -- the parts ------------------------------------------------------------------------------------
def _known(data: dict, keys: tuple[str, ...], where: str, section: str) -> None:
    for key in data:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            place = f"'{section}'" if section else "the top level"
            raise RecipeError(f"{where}: unknown key '{key}' in {place}{hint}; accepted: {', '.join(keys)}")


def _int(value: Any, where: str, key: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RecipeError(f"{where}: '{key}' must be a whole number >= {minimum}, got {value!r}")
    return value


def _texts(value: Any, base: Path, where: str) -> tuple[tuple[str, ...], str]:
    if isinstance(value, list):  # `texts: ["...", "..."]`, the form people write first
        value = {"list": value}
    if not isinstance(value, dict) or len(value) != 1:
        raise RecipeError(f"{where}: 'texts' must be a list of strings or have exactly one of builtin: NAME, "
                          "file: PATH or list: [...]")
    _known(value, _TEXT_KEYS, where, "texts")
    (kind, arg), = value.items()
    if kind == "list":
        if not isinstance(arg, list) or not all(isinstance(t, str) for t in arg):
            raise RecipeError(f"{where}: 'texts: list' must be a list of strings")
        lines, source = arg, "listed in the recipe"
    else:
        if kind == "builtin":
            sets = builtin_text_sets()
            if arg not in sets:
                raise RecipeError(f"{where}: unknown built-in text set {arg!r}; built in: {', '.join(sorted(sets))}")
            path, source = sets[arg], f"emosynth's built-in set '{arg}' (Apache-2.0)"
        else:
            path = base / str(arg)
            source = f"the file {arg}"
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RecipeError(f"{where}: cannot read the text file {path} ({exc})") from None
        lines = [line for line in raw.splitlines() if not line.lstrip().startswith("#")]
    texts = tuple(dict.fromkeys(t.strip() for t in lines if t.strip()))  # unique, in order
    if not texts:
        raise RecipeError(f"{where}: 'texts' gives no text to speak")
    from ..voice.text import text_to_chunks

    for text in texts:  # an unspeakable line fails here, not hours into the batch
        try:
            text_to_chunks(text)
        except EmosynthError as exc:
            raise RecipeError(f"{where}: texts: {text!r}: {exc}") from None
    return texts, source


def _keep_speaker(value: Any, where: str) -> float | None:
    """``keep_speaker: 0.85``: a speaker similarity in (0, 1); it needs the speaker encoder."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise RecipeError(f"{where}: 'keep_speaker' must be a speaker similarity between 0 and 1 "
                          f"(e.g. 0.85), got {value!r}")
    from ..evaluation.speaker import SpeakerEncoder

    SpeakerEncoder()  # a missing extra is refused now, not once per recording
    return float(value)


def _recordings(value: Any, base: Path, where: str) -> tuple[Path, tuple[Path, ...]]:
    """``recordings: FOLDER`` (every audio file under it) or ``{folder: FOLDER, glob: PATTERN}``."""
    from ..recognizer.corpus import AUDIO_SUFFIXES

    pattern = "**/*"
    if isinstance(value, dict):
        _known(value, ("folder", "glob"), where, "recordings")
        pattern = value.get("glob", pattern)
        value = value.get("folder")
    if not isinstance(value, str) or not isinstance(pattern, str):
        raise RecipeError(f"{where}: 'recordings' must be a folder of audio files ({', '.join(AUDIO_SUFFIXES)}) "
                          "or {folder: FOLDER, glob: PATTERN}")
    root = (base / value).resolve()
    if not root.is_dir():
        raise RecipeError(f"{where}: recordings: {root} is not a folder")
    found = tuple(sorted(p for p in root.glob(pattern) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                         and not any(part.startswith(".") for part in p.relative_to(root).parts)))
    if not found:
        raise RecipeError(f"{where}: recordings: no audio files ({', '.join(AUDIO_SUFFIXES)}) under {root}"
                          + (f" match {pattern!r}" if pattern != "**/*" else ""))
    return root, found


def _voices(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RecipeError(f"{where}: 'voices' must be a list of voice names or blends (see `emosynth voices`)")
    for v in value:
        try:
            load_voice(v)
        except EmosynthError as exc:
            raise RecipeError(f"{where}: voices: {exc}") from None
    return tuple(dict.fromkeys(value))


def _spec(text: Any, where: str, place: str) -> EmotionSpec:
    try:
        return parse_emotion(str(text))
    except EmosynthError as exc:
        raise RecipeError(f"{where}: {place}: {exc}") from None


def _numbers(value: Any, where: str, place: str, example: str) -> list[float]:
    """A non-empty list of numbers (what each grid axis and the intensities are)."""
    if not isinstance(value, list) or not value or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise RecipeError(f"{where}: '{place}' must be a list of numbers, e.g. {example}, got {value!r}")
    return value


def _emotions(value: Any, where: str) -> tuple[EmotionSpec, ...]:
    if not isinstance(value, dict):
        raise RecipeError(f"{where}: 'emotions' must be a mapping with keys {', '.join(_EMOTION_KEYS)}")
    _known(value, _EMOTION_KEYS, where, "emotions")
    specs: list[EmotionSpec] = []
    if value.get("neutral", False) is True:
        specs.append(EmotionSpec.neutral())
    elif value.get("neutral", False) is not False:
        raise RecipeError(f"{where}: 'emotions: neutral' must be true or false")
    primaries = value.get("primaries", [])
    if primaries == "all":
        primaries = [e for e in PRIMARY_EMOTIONS if e != "neutral"]
    if not isinstance(primaries, list):
        raise RecipeError(f"{where}: 'emotions: primaries' must be 'all' or a list of primaries")
    intensities = _numbers(value.get("intensities", [1.0]), where, "emotions: intensities", "[0.5, 1.0]")
    for name in primaries:
        base = _spec(name, where, "emotions: primaries")
        if base.kind != "primary":
            raise RecipeError(f"{where}: emotions: primaries: {name!r} is not a primary; put mixtures, "
                              f"secondaries and negations under 'specs'")
        for x in intensities:
            specs.append(_spec(f"{base.dominant}:{x}", where, "emotions: intensities"))
    extra = value.get("specs", [])
    if not isinstance(extra, list):
        raise RecipeError(f"{where}: 'emotions: specs' must be a list of emotion specs")
    specs += [_spec(s, where, "emotions: specs") for s in extra]
    grid = value.get("va_grid")
    if grid is not None:
        if not isinstance(grid, dict) or set(grid) != {"valence", "arousal"}:
            raise RecipeError(f"{where}: 'emotions: va_grid' must be {{valence: [...], arousal: [...]}}")
        for v in _numbers(grid["valence"], where, "emotions: va_grid: valence", "[-0.5, 0.5]"):
            for a in _numbers(grid["arousal"], where, "emotions: va_grid: arousal", "[-0.5, 0.5]"):
                specs.append(_spec(f"va:{v},{a}", where, "emotions: va_grid"))
    unique = tuple(dict.fromkeys(specs))  # a repeated condition would only repeat clips
    if not unique:
        raise RecipeError(f"{where}: 'emotions' gives no emotion (set neutral: true, primaries, specs or va_grid)")
    return unique


def _output(value: Any, where: str) -> OutputSpec:
    if not isinstance(value, dict):
        raise RecipeError(f"{where}: 'output' must be a mapping with keys {', '.join(_OUTPUT_KEYS)}")
    _known(value, _OUTPUT_KEYS, where, "output")
    fmt = value.get("format", "flac")
    if fmt not in AUDIO_FORMATS:
        raise RecipeError(f"{where}: 'output: format' must be one of {', '.join(AUDIO_FORMATS)}, got {fmt!r}")
    rate = value.get("sample_rate", 24000)
    if rate not in SAMPLE_RATES:
        raise RecipeError(f"{where}: 'output: sample_rate' must be one of {', '.join(map(str, SAMPLE_RATES))}, "
                          f"got {rate!r}")
    face = value.get("face", False)
    if not isinstance(face, bool):
        raise RecipeError(f"{where}: 'output: face' must be true or false")
    return OutputSpec(format=fmt, sample_rate=rate, face=face)


def _gate(value: Any, where: str) -> QualityGate:
    if not isinstance(value, dict):
        raise RecipeError(f"{where}: 'quality_gate' must be a mapping with keys {', '.join(_GATE_KEYS)}")
    _known(value, _GATE_KEYS, where, "quality_gate")
    threshold = value.get("min_probability", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise RecipeError(f"{where}: 'quality_gate: min_probability' must be a number in [0, 1], got {threshold!r}")
    action = value.get("action", "flag")
    if action not in GATE_ACTIONS:
        raise RecipeError(f"{where}: 'quality_gate: action' must be one of {', '.join(GATE_ACTIONS)}, got {action!r}")
    return QualityGate(min_probability=float(threshold), action=action)
