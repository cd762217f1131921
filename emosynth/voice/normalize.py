"""English text normalisation: what a reader says for numbers, money, times, abbreviations and
symbols, spelled out in words the G2P dictionaries know.

>>> normalize_text("Dr. Smith paid $5.20 at 10:30 on May 21st - 50% off!")
'Doctor Smith paid five dollars and twenty cents at ten thirty on May twenty-first — fifty percent off!'

Rules run in a fixed order (abbreviations, money, times, percentages, ordinals, decimals,
decades, years, ranges, cardinals, symbols), each one a regular expression with a small
function, so a case that reads wrongly can be traced to one rule. Punctuation is kept: Kokoro
reads ``, . ! ? ; : — … " ( )`` as prosody (pauses, final pitch). Characters that are neither
Latin letters nor such punctuation (emoji, other scripts, stray symbols) are dropped with a
logged warning, because the G2P's out-of-vocabulary model would otherwise invent sounds for them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

from .numwords import (
    cardinal_words,
    decimal_words,
    digit_words,
    money_words,
    ordinal_words,
    time_words,
    year_words,
)

__all__ = ["normalize_text", "KEPT_PUNCTUATION"]

log = logging.getLogger(__name__)

#: Punctuation that survives normalisation; every mark is a token in Kokoro's vocabulary.
KEPT_PUNCTUATION = frozenset(';:,.!?—…"()“”')
# Apostrophes and hyphens stay inside words ("don't", "well-known"); the G2P handles them.
_WORD_INNER = frozenset("'-")

# Typographic marks mapped to what Kokoro and the G2P read; applied before accents are stripped.
_TYPOGRAPHY = {
    "‘": "'", "’": "'", "ʼ": "'", "`": "'", "´": "'",
    "«": "“", "»": "”", "„": "“", "‟": "“",
    "–": " — ", "―": " — ", "‒": " — ",
    "[": "(", "]": ")", "{": "(", "}": ")",
    "¡": "", "¿": "",
}
# Symbols read as words; '#' only before a digit (see _NUMBER_SIGN).
_SYMBOLS = {"&": " and ", "+": " plus ", "%": " percent ", "@": " at ", "=": " equals ",
            "×": " times ", "°": " degrees ", "/": " ", "\u00a0": " "}

_TEMPERATURE_SCALES = {"C": "Celsius", "F": "Fahrenheit"}
_CURRENCIES = {"$": ("dollar", "cent"), "£": ("pound", "penny"), "€": ("euro", "cent"),
               "¥": ("yen", "sen")}
_SCALE_SUFFIXES = {"k": "thousand", "m": "million", "mn": "million", "bn": "billion",
                   "b": "billion", "thousand": "thousand", "million": "million",
                   "billion": "billion", "trillion": "trillion"}

# Abbreviations always expanded the same way; the value's "." marks one that may end a sentence.
_ABBREVIATIONS = {
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Prof.": "Professor", "Mt.": "Mount",
    "Jr.": "Junior.", "Sr.": "Senior.", "e.g.": "for example", "i.e.": "that is",
    "etc.": "et cetera.", "vs.": "versus", "vs": "versus", "approx.": "approximately",
    "Ave.": "Avenue.", "Inc.": "Incorporated.", "Ltd.": "Limited.",
}
# Read one way before a capitalised name ("St. Louis") and another elsewhere ("Elm St.").
_NAME_OR_PLACE = {"St.": ("Saint", "Street."), "Dr.": ("Doctor", "Drive.")}

_NUM = r"\d{1,3}(?:,\d{3})+|\d+"  # digits with optional thousands separators


def normalize_text(text: str) -> str:
    """Spell out ``text`` as English words, keeping prosodic punctuation (see module doc)."""
    text = _clean_typography(text)
    for rule in _RULES:
        text = rule(text)
    text = _drop_unspeakable(text)
    return _tidy_spaces(text)


# -- characters --------------------------------------------------------------------------------
def _clean_typography(text: str) -> str:
    text = "".join(_TYPOGRAPHY.get(ch, ch) for ch in text)
    text = re.sub(r"\s+-{1,2}\s+|--", " — ", text)  # a spaced hyphen or double hyphen is a dash
    text = text.replace("...", "…")
    # Strip accents ("café" -> "cafe"): the dictionaries are English, and the G2P drops accented
    # letters. NFKD would also split "…" into dots and "½" into digits, so only letters go through it.
    return "".join(_strip_accent(ch) if ch.isalpha() else ch for ch in text)


def _strip_accent(ch: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if base.isascii() else ch


def _drop_unspeakable(text: str) -> str:
    dropped: set[str] = set()

    def keep(ch: str) -> str:
        if (ch.isascii() and (ch.isalpha() or ch.isspace())) or ch in KEPT_PUNCTUATION or ch in _WORD_INNER:
            return ch
        dropped.add(ch)
        return " "

    out = "".join(keep(ch) for ch in text)
    if dropped:
        log.warning("dropped characters with no English reading: %s", " ".join(sorted(dropped)))
    return out


def _tidy_spaces(text: str) -> str:
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r" +([,.!?;:…”)])", r"\1", text)  # no space before closing marks
    text = re.sub(r"([“(]) +", r"\1", text)
    return text.strip()


# -- rules ---------------------------------------------------------------------------------------
def _sentence_end_follows(text: str, end: int) -> bool:
    """True when position ``end`` is followed by the end of the text or by space and a capital,
    so a period consumed with an abbreviation also ended the sentence."""
    return re.match(r"\s*$|\s+[\"“(]?[A-Z]", text[end:]) is not None


def _expand_abbreviations(text: str) -> str:
    def fixed(m: re.Match[str]) -> str:
        word = _ABBREVIATIONS[m.group(0)]
        return word if _sentence_end_follows(text, m.end()) else word.rstrip(".")

    def name_or_place(m: re.Match[str]) -> str:
        title, place = _NAME_OR_PLACE[m.group(0)]
        if re.match(r"\s+[A-Z]", text[m.end():]):
            return title
        return place if _sentence_end_follows(text, m.end()) else place.rstrip(".")

    fixed_pattern = "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True))
    text = re.sub(rf"(?<![\w.])(?:{fixed_pattern})(?![\w])", fixed, text)
    text = re.sub(r"(?<![\w.])(?:St|Dr)\.", name_or_place, text)
    return re.sub(r"(?<![\w.])No\.\s*(?=\d)", "number ", text)


def _expand_money(text: str) -> str:
    pattern = rf"([$£€¥])\s?({_NUM})(?:\.(\d+))?(?:\s?(thousand|million|billion|trillion|bn|mn|[kKmMbB])\b)?"

    def spell(m: re.Match[str]) -> str:
        major, minor = _CURRENCIES[m.group(1)]
        amount = m.group(2) + (f".{m.group(3)}" if m.group(3) else "")
        if m.group(4):  # "$5.2 million" -> "five point two million dollars"
            return f"{decimal_words(amount)} {_SCALE_SUFFIXES[m.group(4).lower()]} {major}s"
        return money_words(amount, major, minor)

    return re.sub(pattern, spell, text)


def _expand_times(text: str) -> str:
    meridiem = r"([aApP])\.?[mM]\b\.?"  # am, a.m., PM, p.m.
    pattern = rf"\b([01]?\d|2[0-3]):([0-5]\d)(?!\d)(?:\s?{meridiem})?|\b(1[0-2]|0?[1-9])\s?{meridiem}"

    def spell(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            words, half = time_words(int(m.group(1)), int(m.group(2))), m.group(3)
        else:
            words, half = cardinal_words(int(m.group(4))), m.group(5)
        if half:
            # "ay em" rather than "a.m.": the G2P reads the letters well and no period remains
            # to be mistaken for a sentence end.
            words += " ay em" if half.lower() == "a" else " pee em"
            if m.group(0).endswith(".") and _sentence_end_follows(text, m.end()):
                words += "."
        return words

    return re.sub(pattern, spell, text)


def _expand_percentages(text: str) -> str:
    return re.sub(rf"(-?(?:{_NUM})(?:\.\d+)?)\s?%", lambda m: f"{decimal_words(m.group(1))} percent", text)


def _expand_ordinals(text: str) -> str:
    return re.sub(rf"\b({_NUM})(st|nd|rd|th)\b", lambda m: ordinal_words(_int(m.group(1))), text,
                  flags=re.IGNORECASE)


def _expand_decimals(text: str) -> str:
    # "-" is a sign only where it does not join words; ".5" needs a space before it; a number
    # inside "1.2.3" is left to the digit rules.
    sign = r"(?:(?<![\w-])-)?"
    pattern = rf"(?:(?<![\w.-]){sign}\.\d+|(?<![\d.]){sign}(?:{_NUM})\.\d+)(?!\d|\.\d)"
    return re.sub(pattern, lambda m: _spaced(text, m, decimal_words(m.group(0))), text)


def _expand_decades(text: str) -> str:
    """'1990s' -> 'nineteen nineties', "'80s" and '80s' -> 'eighties'."""
    def spell(m: re.Match[str]) -> str:
        words = year_words(int(m.group(1))) if len(m.group(1)) == 4 else cardinal_words(int(m.group(1)))
        return words[:-1] + "ies" if words.endswith("y") else words + "s"

    return re.sub(r"(?<![\d,.])'?(\d\d\d0|[1-9]0)'?s\b", spell, text)


def _expand_years(text: str) -> str:
    """Four-digit numbers from 1000 to 2099 without separators read as years ("in 1999");
    numbers read that way are also what speakers say for counts ("1500" -> "fifteen hundred")."""
    pattern = r"(?<![\d,.])(1\d{3}|20\d{2})(?!\d|[.,]\d)"
    return re.sub(pattern, lambda m: year_words(int(m.group(1))), text)


def _expand_ranges(text: str) -> str:
    """'5-10' between numbers reads 'five to ten'."""
    return re.sub(r"(?<=\d)\s?[-—]\s?(?=\d)", " to ", text)


def _expand_cardinals(text: str) -> str:
    def spell(m: re.Match[str]) -> str:
        sign, digits = m.group(1), m.group(2)
        if len(digits) > 1 and digits.startswith("0"):
            words = digit_words(digits)  # "007", codes and zip codes are read digit by digit
        else:
            words = cardinal_words(_int(digits))
        return _spaced(text, m, ("minus " if sign else "") + words)

    text = re.sub(r"#\s?(?=\d)", " number ", text)
    return re.sub(rf"((?<![\w-])-)?({_NUM})", spell, text)


def _expand_symbols(text: str) -> str:
    text = re.sub(r"\s?°\s?([CF])\b", lambda m: " degrees " + _TEMPERATURE_SCALES[m.group(1)], text)
    return "".join(_SYMBOLS.get(ch, ch) for ch in text)


def _spaced(text: str, m: re.Match[str], words: str) -> str:
    """``words`` with a space on each side where the match touched a letter ("mp3" -> "mp three")."""
    before = " " if m.start() > 0 and text[m.start() - 1].isalpha() else ""
    after = " " if m.end() < len(text) and text[m.end()].isalpha() else ""
    return f"{before}{words}{after}"


def _int(digits: str) -> int:
    return int(digits.replace(",", ""))


_RULES: tuple[Callable[[str], str], ...] = (
    _expand_abbreviations,
    _expand_money,
    _expand_times,
    _expand_percentages,
    _expand_ordinals,
    _expand_decimals,
    _expand_decades,
    _expand_years,
    _expand_ranges,
    _expand_cardinals,
    _expand_symbols,
)
