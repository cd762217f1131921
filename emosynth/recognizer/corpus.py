"""Reading labelled emotional speech corpora in their own layouts.

Three layouts are understood. Two by file name, anywhere under the folder given:

* RAVDESS: ``03-01-EE-II-SS-RR-AA.ext`` (modality, vocal channel, emotion, intensity, statement,
  repetition, actor). Speech only (vocal channel 01). ``calm`` (02) is merged into ``neutral``:
  both are low-arousal, non-valenced delivery of the same sentences, our vocabulary has no calm,
  and merging gives neutral as many clips as the other classes have (RAVDESS records neutral at
  one intensity only). ``happy`` -> joy, ``fearful`` -> fear, ``surprised`` -> surprise.
* CREMA-D: ``AAAA_SSS_EEE_LL.ext`` (actor, sentence, emotion, level), emotions ANG DIS FEA HAP
  NEU SAD. CREMA-D has no surprise.

and one by its table:

* nEMO: a ``data.tsv`` at the top of the folder (columns ``file_id``, ``emotion``, ``speaker_id``,
  ...) naming files under ``audio/``; emotions anger, fear, happiness -> joy, neutral, sadness,
  surprised -> surprise. nEMO has no disgust.

A speaker id names its corpus (``ravdess-01``, ``cremad-1001``, ``nemo-EB0``), so speakers of
different corpora never collide and :attr:`LabelledClip.corpus` can be read from it.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError

__all__ = ["LabelledClip", "read_corpus", "read_corpora", "AUDIO_SUFFIXES"]

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
_NEMO_TABLE = "data.tsv"
_NEMO_EMOTIONS = {
    "anger": "anger", "fear": "fear", "happiness": "joy", "neutral": "neutral", "sadness": "sadness",
    "surprised": "surprise",
}


@dataclass(frozen=True)
class LabelledClip:
    """One clip of a training corpus: where it is, what emotion it acts, who speaks it."""

    path: Path
    emotion: str
    speaker: str

    @property
    def corpus(self) -> str:
        """The corpus the clip belongs to, the prefix of its speaker id (``ravdess``, ``nemo``)."""
        return self.speaker.split("-", 1)[0]


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


def _nemo_clips(root: Path) -> list[LabelledClip]:
    """The clips listed in nEMO's ``data.tsv``; a listed file that is missing stays in the list
    (feature extraction reports it), an unknown emotion is an error."""
    table = root / _NEMO_TABLE
    with open(table, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or not {"file_id", "emotion", "speaker_id"} <= set(rows[0]):
        raise CorpusError(f"{table}: not nEMO's table; it needs the columns file_id, emotion and speaker_id")
    clips = []
    for line, row in enumerate(rows, start=2):
        emotion = _NEMO_EMOTIONS.get(row["emotion"])
        if emotion is None:
            raise CorpusError(f"{table}, line {line}: unknown emotion {row['emotion']!r}; "
                              f"nEMO's are {', '.join(_NEMO_EMOTIONS)}")
        path = root / "audio" / row["file_id"]
        clips.append(LabelledClip(path=path if path.exists() else root / row["file_id"], emotion=emotion,
                                  speaker=f"nemo-{row['speaker_id']}"))
    return sorted(clips, key=lambda c: c.path)


def read_corpus(folder: str | os.PathLike[str]) -> list[LabelledClip]:
    """Every labelled speech clip under ``folder``, sorted by path.

    Raises :class:`CorpusError` when the folder is missing or holds no clip in any of the
    layouts, or when it holds fewer than two speakers (speaker-independent folds need more).
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder")
    if (root / _NEMO_TABLE).is_file():
        clips = _nemo_clips(root)
    else:
        clips = []
        for path in _audio_files(root):
            label = _label(path.stem)
            if label is not None:
                clips.append(LabelledClip(path=path, emotion=label[0], speaker=label[1]))
    if not clips:
        raise CorpusError(
            f"{root}: no labelled speech clips found; file names must follow the RAVDESS layout "
            "(03-01-05-01-01-01-12.wav) or the CREMA-D layout (1001_DFA_ANG_XX.wav), or the folder "
            f"must hold nEMO's {_NEMO_TABLE}"
        )
    speakers = Counter(c.speaker for c in clips)
    if len(speakers) < 2:
        raise CorpusError(f"{root}: clips of only one speaker; speaker-independent training needs several")
    return clips


def read_corpora(folders: Sequence[str | os.PathLike[str]]) -> list[LabelledClip]:
    """The clips of several corpora together, in the order given.

    Raises :class:`CorpusError` when no folder is given, when one cannot be read, or when two
    folders hold the same clip (the same corpus given twice would leak speakers across folds).
    """
    if not folders:
        raise CorpusError("no corpus folder given")
    clips: list[LabelledClip] = []
    seen: dict[Path, str] = {}
    for folder in folders:
        for clip in read_corpus(folder):
            key = clip.path.resolve()
            if key in seen:
                raise CorpusError(f"{clip.path}: already read from {seen[key]}; give each corpus once")
            seen[key] = str(folder)
            clips.append(clip)
    return clips
