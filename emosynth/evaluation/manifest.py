"""The evaluation manifest: which clips to judge and what each was meant to express.

A CSV file with a header row, or JSON Lines (one object a line), one row per clip:

=========  ========  ==================================================================
column     needed    meaning
=========  ========  ==================================================================
file       yes       audio path, relative to the audio folder (or absolute)
emotion    yes       target primary, one of ``PRIMARY_EMOTIONS`` (any letter case), or any
                     emotion spec (``joy:0.7``, ``joy:0.5,surprise:0.3``, ``delight``,
                     ``-joy:0.5``, ``va:0.6,0.4``): its dominant primary is the target, its
                     intensity and circumplex point the defaults below
intensity  no        requested intensity in [0, 1.5] for a bare primary; default 1.0; 0 means
                     neutral delivery (a spec carries its own)
text       no        the words spoken; needed for word error rates
speaker    no        voice or speaker id; default ``default`` (one speaker)
valence    no        target valence in [-1, 1]; default: the emotion's circumplex valence
                     times the intensity
arousal    no        likewise for arousal
=========  ========  ==================================================================

Other columns are ignored. Every problem found is reported at once, each with its line.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..emotions import CIRCUMPLEX, MAX_INTENSITY, PRIMARY_EMOTIONS, parse_emotion
from ..errors import EmotionSpecError, ManifestError
from ..io import read_user_text

__all__ = ["ManifestRow", "read_manifest", "MANIFEST_COLUMNS", "DEFAULT_SPEAKER"]

MANIFEST_COLUMNS = ("file", "emotion", "intensity", "text", "speaker", "valence", "arousal")
DEFAULT_SPEAKER = "default"
_REQUIRED = ("file", "emotion")
_MAX_LISTED = 10  # problems spelt out in one error message


@dataclass(frozen=True)
class ManifestRow:
    """One clip to judge. ``target`` is what accuracy counts it as: intensity 0 is neutral."""

    path: Path  # where the audio is
    file: str  # as the manifest wrote it
    emotion: str  # one of PRIMARY_EMOTIONS
    intensity: float = 1.0
    text: str | None = None
    speaker: str = DEFAULT_SPEAKER
    valence: float = 0.0
    arousal: float = 0.0
    line: int = 0  # where in the manifest it stands (0: not read from a file)

    @property
    def target(self) -> str:
        return "neutral" if self.intensity == 0 else self.emotion


def read_manifest(
    path: str | os.PathLike[str], audio_dir: str | os.PathLike[str] | None = None
) -> list[ManifestRow]:
    """The rows of a CSV or JSONL manifest, in file order, with every audio file checked to exist.

    ``audio_dir`` is the folder ``file`` paths are relative to; default: the manifest's folder.
    JSONL is recognised by a ``.jsonl``/``.json`` suffix or a first character ``{``.
    Raises :class:`ManifestError` listing every bad row (line, what is wrong, what is accepted).
    """
    manifest = Path(path)
    folder = Path(audio_dir) if audio_dir is not None else manifest.parent
    text = read_user_text(manifest, ManifestError, "manifest file")
    is_jsonl = manifest.suffix.lower() in (".jsonl", ".json") or text.lstrip().startswith("{")
    records = _jsonl_records(manifest, text) if is_jsonl else _csv_records(manifest, text)
    rows, problems = [], []
    for line, record in records:
        try:
            rows.append(_row(record, line, folder))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise ManifestError(f"{manifest}: {len(problems)} bad row(s):\n  "
                            + "\n  ".join(problems[:_MAX_LISTED]) + more)
    if not rows:
        raise ManifestError(f"{manifest}: the manifest is empty; it needs one row per clip with "
                            f"at least the columns {', '.join(_REQUIRED)}")
    return rows


def _check_columns(manifest: Path, columns: set[str]) -> None:
    missing = [c for c in _REQUIRED if c not in columns]
    if missing:
        found = ", ".join(sorted(columns)) or "none"
        raise ManifestError(
            f"{manifest}: no {' or '.join(repr(c) for c in missing)} column (columns found: {found}); "
            f"required: {', '.join(_REQUIRED)}; optional: {', '.join(MANIFEST_COLUMNS[2:])}"
        )


def _csv_records(manifest: Path, text: str) -> Iterator[tuple[int, dict]]:
    """(line, {lower-case column: value}) for every non-blank data row of a CSV text."""
    reader = csv.DictReader(text.splitlines(keepends=True))
    try:
        header = reader.fieldnames
        if header is None:
            raise ManifestError(f"{manifest}: the manifest is empty; it needs a header row with at "
                                f"least the columns {', '.join(_REQUIRED)}, then one row per clip")
        _check_columns(manifest, {h.strip().lower() for h in header if h})
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ManifestError(f"{manifest}: line {reader.line_num}: not valid CSV ({exc})") from None
    for line, row in rows:
        if any((v or "").strip() for k, v in row.items() if k is not None):
            yield line, {k.strip().lower(): v for k, v in row.items() if k is not None}


def _jsonl_records(manifest: Path, text: str) -> Iterator[tuple[int, dict]]:
    """(line, {lower-case key: value}) for every non-blank line of a JSON Lines text."""
    records = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{manifest}: line {line}: not valid JSON ({exc.msg}); "
                                "a JSONL manifest holds one JSON object a line") from None
        if not isinstance(record, dict):
            raise ManifestError(f"{manifest}: line {line}: a {type(record).__name__}, not a JSON object")
        records.append((line, {str(k).strip().lower(): v for k, v in record.items()}))
    if records:
        _check_columns(manifest, set().union(*(r.keys() for _, r in records)))
    return iter(records)


def _cell(record: dict, key: str) -> str | None:
    """The stripped text of a cell, or None when it is absent, null or blank."""
    value = record.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _number(record: dict, key: str, default: float, low: float, high: float) -> float:
    raw = _cell(record, key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{key} {raw!r} is not a number from {low:g} to {high:g}")
    return value


def _row(record: dict, line: int, folder: Path) -> ManifestRow:
    """One checked row; ``ValueError`` says what is wrong with it."""
    file = _cell(record, "file")
    if file is None:
        raise ValueError("the file cell is empty; give the audio path relative to the audio folder")
    emotion = (_cell(record, "emotion") or "").lower()
    if emotion in PRIMARY_EMOTIONS:
        intensity = _number(record, "intensity", 1.0, 0.0, MAX_INTENSITY)
        point = CIRCUMPLEX[emotion]
        default_va = (point.valence * intensity, point.arousal * intensity)
    else:
        try:
            spec = parse_emotion(_cell(record, "emotion") or "")
        except EmotionSpecError as exc:
            raise ValueError(f"emotion: {exc}") from None
        if _cell(record, "intensity") is not None:
            raise ValueError(f"emotion {spec.text!r} is a spec and carries its own intensity; "
                             "leave the intensity cell empty (or give a bare primary name)")
        emotion, intensity = spec.dominant, min(spec.intensity, MAX_INTENSITY)
        default_va = (spec.valence, spec.arousal)
    valence = _number(record, "valence", max(-1.0, min(1.0, default_va[0])), -1.0, 1.0)
    arousal = _number(record, "arousal", max(-1.0, min(1.0, default_va[1])), -1.0, 1.0)
    audio = folder / file
    if not audio.is_file():
        raise ValueError(f"audio file {file!r} not found in {folder}")
    return ManifestRow(path=audio, file=file, emotion=emotion, intensity=intensity,
                       text=_cell(record, "text"), speaker=_cell(record, "speaker") or DEFAULT_SPEAKER,
                       valence=valence, arousal=arousal, line=line)
