"""Reading labelled emotional speech corpora from their file-name conventions.

Two layouts are understood, anywhere under the folder given:

* RAVDESS: ``03-01-EE-II-SS-RR-AA.ext`` (modality, vocal channel, emotion, intensity, statement,
  repetition, actor). Speech only (vocal channel 01). ``calm`` (02) is merged into ``neutral``:
  both are low-arousal, non-valenced delivery of the same sentences, our vocabulary has no calm,
  and merging gives neutral as many clips as the other classes have (RAVDESS records neutral at
  one intensity only). ``happy`` -> joy, ``fearful`` -> fear, ``surprised`` -> surprise.
* CREMA-D: ``AAAA_SSS_EEE_LL.ext`` (actor, sentence, emotion, level), emotions ANG DIS FEA HAP
  NEU SAD. CREMA-D has no surprise.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError

__all__ = ["LabelledClip", "read_corpus", "AUDIO_SUFFIXES"]

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")

_RAVDESS = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_RAVDESS_EMOTIONS = {
    "01": "neutral", "02": "neutral", "03": "joy", "04": "sadness",
    "05": "anger", "06": "fear", "07": "disgust", "08": "surprise",
}
_CREMAD = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
_CREMAD_EMOTIONS = {
    "ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "joy", "NEU": "neutral", "SAD": "sadness",
}


@dataclass(frozen=True)
class LabelledClip:
    """One clip of a training corpus: where it is, what emotion it acts, who speaks it."""

    path: Path
    emotion: str
    speaker: str


def _label(stem: str) -> tuple[str, str] | None:
    """(emotion, speaker) from a RAVDESS or CREMA-D file name, or None if it is neither."""
    m = _RAVDESS.match(stem)
    if m and m.group(2) == "01" and m.group(3) in _RAVDESS_EMOTIONS:
        return _RAVDESS_EMOTIONS[m.group(3)], f"ravdess-{m.group(7)}"
    m = _CREMAD.match(stem)
    if m and m.group(3) in _CREMAD_EMOTIONS:
        return _CREMAD_EMOTIONS[m.group(3)], f"cremad-{m.group(1)}"
    return None


def _audio_files(root: Path) -> list[Path]:
    """Audio files under ``root``, sorted; symlinked folders are followed (corpora often are)."""
    found = []
    for folder, _, names in os.walk(root, followlinks=True):
        found += [Path(folder) / n for n in names if Path(n).suffix.lower() in AUDIO_SUFFIXES]
    return sorted(found)


def read_corpus(folder: str | os.PathLike[str]) -> list[LabelledClip]:
    """Every labelled speech clip under ``folder``, sorted by path.

    Raises :class:`CorpusError` when the folder is missing or holds no clip named in either
    layout, or when it holds fewer than two speakers (speaker-independent folds need more).
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder")
    clips = []
    for path in _audio_files(root):
        label = _label(path.stem)
        if label is not None:
            clips.append(LabelledClip(path=path, emotion=label[0], speaker=label[1]))
    if not clips:
        raise CorpusError(
            f"{root}: no labelled speech clips found; file names must follow the RAVDESS layout "
            "(03-01-05-01-01-01-12.wav) or the CREMA-D layout (1001_DFA_ANG_XX.wav)"
        )
    speakers = Counter(c.speaker for c in clips)
    if len(speakers) < 2:
        raise CorpusError(f"{root}: clips of only one speaker; speaker-independent training needs several")
    return clips
