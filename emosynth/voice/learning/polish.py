"""Polish text to Kokoro phoneme tokens, through espeak-ng's IPA (for nEMO's transcripts).

Why espeak-ng: the project's G2P is English only, and Kokoro reads IPA-like symbols whatever
the language. espeak-ng is GPL-3, so it is only ever run as a separate program
(``espeak-ng -v pl -q --ipa --tie``), at fitting time, never imported or shipped; install it with
``apt-get install espeak-ng``.

Mapping onto Kokoro's 114 symbols (measured on nEMO's 90 sentences: every other symbol espeak
writes is already in the vocabulary):

* affricates that espeak ties (``t͡s d͡z t͡ʃ d͡ʒ t͡ɕ d͡ʑ``) become Kokoro's single symbols
  ``ʦ ʣ ʧ ʤ ʨ ʥ``, as its own English (ʧ ʤ) and Japanese (ʦ ʨ ʥ) G2P write them; untied
  ``ts``/``tʃ`` stay two symbols (clusters, as in "odsunąć", "trzy");
* ``ʑ`` (ź, "zi"), the one Polish sound Kokoro lacks, becomes ``ʥ``: the voiced alveolo-palatal
  Kokoro learnt from Japanese, whose G2P writes じ (often [ʑ]) as ʥ. The alternatives merge ź
  with a sound of another place (``ʒ``, ż) or drop its voicing (``ɕ``, ś);
* stress ``ˈ ˌ``, length ``ː`` and nasality ``̃`` are Kokoro symbols and stay;
* punctuation is taken from the text (espeak drops it): ``, . ! ? ; : — …`` and quotes, attached
  to the word before (the opening quote to the word after), words separated by one space, as
  the English G2P writes them (Polish „ becomes “).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import unicodedata

from ..assets import vocabulary
from ..errors import TextError

__all__ = ["ESPEAK", "ESPEAK_VOICE", "espeak_version", "polish_phonemes", "polish_token_ids"]

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
ESPEAK_VOICE = "pl"
_TIE = "\u0361"
_AFFRICATES = {f"t{_TIE}s": "ʦ", f"d{_TIE}z": "ʣ", f"t{_TIE}ʃ": "ʧ", f"d{_TIE}ʒ": "ʤ",
               f"t{_TIE}ɕ": "ʨ", f"d{_TIE}ʑ": "ʥ"}
#: Symbols Kokoro lacks, and what stands in for them (see the module's docstring).
REPLACEMENTS = {"ʑ": "ʥ"}
_QUOTES = {"„": "“", "”": "”", "“": "“", '"': "”", "«": "“", "»": "”"}
_PUNCTUATION = ",.!?;:—…"
_PIECES = re.compile(rf"([{re.escape(_PUNCTUATION)}]+|[{''.join(_QUOTES)}])")


def espeak_version() -> str:
    """espeak-ng's version line (recorded with cached phonemes), or :class:`TextError` if absent."""
    return _run([_espeak(), "--version"], "").strip().splitlines()[0]


def polish_phonemes(text: str) -> str:
    """Kokoro phoneme symbols for one Polish sentence; every symbol is in Kokoro's vocabulary.

    Raises :class:`TextError` when espeak-ng is missing or fails, or writes a symbol that has no
    stand-in (the message names it).
    """
    if not text.strip():
        raise TextError("the Polish text is empty")
    pieces = [p for p in _PIECES.split(" ".join(text.split())) if p and p.strip()]
    words = [p.strip() for p in pieces if not _PIECES.fullmatch(p.strip())]
    ipa = _espeak_lines(words)
    out: list[str] = []
    spoken = iter(ipa)
    for piece in pieces:
        piece = piece.strip()
        if not _PIECES.fullmatch(piece):
            out.append(" " + _kokoro_symbols(next(spoken), text))
        elif piece in _QUOTES and _QUOTES[piece] == "“":
            out.append(" “")
        else:
            out.append(_QUOTES.get(piece, piece))
    phonemes = re.sub(r" {2,}", " ", "".join(out)).strip().replace("“ ", "“")
    if not phonemes:
        raise TextError(f"nothing speakable in {text!r}")
    return phonemes


def polish_token_ids(phonemes: str) -> tuple[int, ...]:
    """Kokoro token ids of :func:`polish_phonemes`' symbols."""
    vocab = vocabulary()
    return tuple(vocab[ch] for ch in phonemes)


def _kokoro_symbols(ipa: str, text: str) -> str:
    for tied, single in _AFFRICATES.items():
        ipa = ipa.replace(tied, single)
    ipa = "".join(REPLACEMENTS.get(ch, ch) for ch in ipa.replace(_TIE, ""))
    vocab = vocabulary()
    unknown = sorted({ch for ch in ipa if ch not in vocab})
    dropped = [ch for ch in unknown if unicodedata.category(ch) == "Mn"]  # diacritics Kokoro lacks
    if dropped:
        log.warning("diacritics not in Kokoro's vocabulary dropped from %r: %s", text, " ".join(dropped))
        ipa = "".join(ch for ch in ipa if ch not in dropped)
    missing = [ch for ch in unknown if ch not in dropped]
    if missing:
        raise TextError(f"espeak-ng wrote symbols Kokoro has no stand-in for in {text!r}: "
                        f"{' '.join(f'{ch} (U+{ord(ch):04X})' for ch in missing)}; add them to "
                        "emosynth.voice.learning.polish.REPLACEMENTS")
    return " ".join(ipa.split())


def _espeak_lines(lines: list[str]) -> list[str]:
    """espeak-ng's IPA for each line (no punctuation inside, so it keeps one output line each)."""
    if not lines:
        return []
    out = _run([_espeak(), "-v", ESPEAK_VOICE, "-q", "--ipa", f"--tie={_TIE}"], "\n".join(lines) + "\n")
    ipa = [line.strip() for line in out.splitlines() if line.strip()]
    if len(ipa) == len(lines):
        return ipa
    return [_espeak_lines_one(line) for line in lines]  # espeak split or joined a line: one by one


def _espeak_lines_one(line: str) -> str:
    out = _run([_espeak(), "-v", ESPEAK_VOICE, "-q", "--ipa", f"--tie={_TIE}", line], "")
    return " ".join(out.split())


def _espeak() -> str:
    path = shutil.which(ESPEAK)
    if path is None:
        raise TextError("Polish phonemes need the espeak-ng program (GPL-3, run as a separate "
                        "program only); install it with: apt-get install espeak-ng")
    return path


def _run(command: list[str], stdin: str) -> str:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60,
                              check=False, encoding="utf-8")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TextError(f"espeak-ng could not be run ({exc})") from None
    if done.returncode != 0:
        raise TextError(f"espeak-ng failed (exit {done.returncode}): {done.stderr.strip()[:200]}")
    return done.stdout
