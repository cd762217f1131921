"""English text normalisation: what a reader says for numbers, money, times, abbreviations and
symbols, spelled out in words the G2P dictionaries know.

>>> normalize_text("Dr. Smith paid $5.20 at 10:30 on May 21st - 50% off!")
'Doctor Smith paid five dollars and twenty cents at ten thirty on May twenty-first — fifty percent off!'

Rules run in a fixed order (abbreviations, dates, hyphenated numbers, money, times, percentages,
ordinals, decimals, decades, years, cardinals, symbols), each one a regular expression with a
small function, so a case that reads wrongly can be traced to one rule. Readings that depend on
context (titles or street types, codes or ranges, years or counts) are documented on their rules:
:func:`_expand_abbreviations`, :func:`_expand_hyphenated_numbers`, :func:`_expand_years` (and in
docs/voice.md, "Text handling"). Ranges are read before money, times and percentages so that
"$5-$10", "10:30-11:00" and "10-20%" keep their "to". Punctuation is kept: Kokoro
reads ``, . ! ? ; : — … " ( )`` as prosody (pauses, final pitch). Characters that are neither
Latin letters nor such punctuation (emoji, other scripts, stray symbols) are dropped with a
logged warning, because the G2P's out-of-vocabulary model would otherwise invent sounds for them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable

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
    "¡": "", "¿": "", "−": " minus ",  # U+2212 is only ever the minus sign
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
    "Jr.": "Junior.", "Sr.": "Senior.", "e.g.": "for example", "i.e.": "that is",
    "etc.": "et cetera.", "vs.": "versus", "vs": "versus", "approx.": "approximately",
    "Ave.": "Avenue.", "Rd.": "Road.", "Blvd.": "Boulevard.", "Inc.": "Incorporated.", "Ltd.": "Limited.",
}
# Titles, read before a name; their period ends a sentence only where a sentence plainly ends.
_TITLES = {
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor",
    "St.": "Saint", "Mt.": "Mount", "Rev.": "Reverend", "Fr.": "Father", "Gen.": "General",
    "Col.": "Colonel", "Capt.": "Captain", "Lt.": "Lieutenant", "Sgt.": "Sergeant",
    "Gov.": "Governor", "Sen.": "Senator", "Rep.": "Representative", "Pres.": "President",
    "Hon.": "Honorable", "Maj.": "Major", "Cpl.": "Corporal", "Adm.": "Admiral", "Det.": "Detective",
    "Insp.": "Inspector", "Supt.": "Superintendent", "Messrs.": "Messieurs", "Mme.": "Madame",
}
# Titles that are also street types, read so after a street name ("Elm St.", "Mulholland Dr.").
_STREET_TYPES = {"St.": "Street", "Dr.": "Drive"}
# Capitalised words that start sentences but are not names: after a title they mean the title
# ended a sentence ("I called the Dr. Then I left."); before "Dr." they are not a street's name.
_SENTENCE_STARTERS = frozenset(re.findall(r"\w+", """
    A An The This That These Those There Here Then Now Next Later So But And Or Yet If When While
    As After Before Since Until Once In On At By For From To With Without Of
    I We You He She It They My Our Your His Her Its Their Me Us Them
    Is Are Was Were Be Been Do Does Did Have Has Had Can Could Would Shall Should Might
    Must Let Please What Why How Where Which Yes No Not Some All Each Every Any Many Most
    Thanks Thank Hi Hello Hey Dear Goodbye Bye Sorry Okay OK Oh Well Sure
"""))

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_MONTH_ABBREVIATIONS = {m[:3]: m for m in _MONTHS if m != "May"} | {"Sept": "September"}

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
    """Abbreviations in words. Titles read by what follows and precedes them:

    * before a capitalised name, a title: "Dr. Smith" -> "Doctor Smith", "St. Louis" -> "Saint
      Louis" (a capitalised word that commonly starts sentences, "Then", "The", "We", is no name);
    * otherwise "St." is a street ("Elm St.", "on Elm St., then"), and "Dr." a drive after a
      street's name (a capitalised word, "Mulholland Dr.", or a number, "5th Dr.") and a doctor
      elsewhere ("I called the Dr.");
    * the title's period stays, ending the sentence, at the end of the text or before a sentence
      starter ("Elm St. Then we left." -> "Elm Street. Then we left."); before a name it goes,
      so the sentence splitter does not cut "Dr. Smith" in two.
    """
    def fixed(m: re.Match[str]) -> str:
        word = _ABBREVIATIONS[m.group(0)]
        return word if _sentence_end_follows(text, m.end()) else word.rstrip(".")

    def title(m: re.Match[str]) -> str:
        abbr = m.group(0)
        following = re.match(r"\s+[\"“(]?([A-Z][\w'-]*)", text[m.end():])
        if following and following.group(1) not in _SENTENCE_STARTERS:
            return _TITLES[abbr]
        if abbr == "St." or (abbr == "Dr." and _after_street_name(text[:m.start()])):
            word = _STREET_TYPES[abbr]
        else:
            word = _TITLES[abbr]
        return word + "." if _sentence_end_follows(text, m.end()) else word

    text = re.sub(rf"(?<![\w.])(?:{_alternatives(_ABBREVIATIONS)})(?![\w])", fixed, text)
    text = re.sub(rf"(?<![\w.])(?:{_alternatives(_TITLES)})", title, text)
    return re.sub(r"(?<![\w.])No\.\s*(?=\d)", "number ", text)


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first so "Mrs." is tried before "Mr."."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _after_street_name(before: str) -> bool:
    """True when ``before`` ends in a word that can name a street: capitalised and not a common
    sentence starter or greeting ("Mulholland", not "The" or "Thanks"), or a number ("5th")."""
    m = re.search(r"(?:^|\s)([A-Z][\w'-]*|\d+(?:st|nd|rd|th)?)\s+$", before)
    return m is not None and m.group(1) not in _SENTENCE_STARTERS


def _expand_dates(text: str) -> str:
    """ISO dates and a month's days as read aloud: "2024-05-21" -> "May twenty-first, twenty
    twenty-four", "Jan. 5" -> "January fifth", "May 21-23" -> "May twenty-first to twenty-third".
    A day before the month ("5 May") stays a cardinal."""
    def iso(m: re.Match[str]) -> str:
        year, month, day = (int(g) for g in m.groups())
        return f"{_MONTHS[month - 1]} {ordinal_words(day)}, {year_words(year)}"

    def month_day(m: re.Match[str]) -> str:
        month, first, last = _MONTH_ABBREVIATIONS.get(m.group(1), m.group(1)), m.group(3), m.group(4)
        if not first:
            return f"{month}{m.group(2) or ' '}"
        return f"{month} {ordinal_words(int(first))}" + (f" to {ordinal_words(int(last))}" if last else "")

    text = re.sub(r"(?<![\w.-])(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?![\w-]|\.\d)", iso, text)
    months = "|".join([*_MONTHS, *_MONTH_ABBREVIATIONS])
    # A month's name (or abbreviation, with or without its period) before a day, days or a year.
    day = r"(0?[1-9]|[12]\d|3[01])"
    days = rf"{day}(?:-{day})?(?![\d:-]|st|nd|rd|th|[.,]\d)"
    return re.sub(rf"\b({months})\b\.?(?=\s*\d)(\s*)(?:{days})?", month_day, text)


# Words before a two-part number that make it a telephone number ("call 555-1234").
_PHONE_CUE = r"(?i:call|phone|tel|telephone|fax|dial|mobile|cell|text|number|no)\.?:?"


def _expand_hyphenated_numbers(text: str) -> str:
    """Numbers joined by hyphens: codes read in digit groups, ranges read with "to".

    * Three or more groups ("555-123-4567", "978-3-16-148410-0") and telephone forms ("(555)
      123-4567", "call 555-1234") are codes: each group digit by digit, groups parted by commas,
      "five five five, one two three, four five six seven". So is a pair with a leading zero
      ("07-123").
    * Any other pair is a range or a score: "5-10" -> "5 to 10", "$5-$10", "10:30-11:00",
      "3-1" (later "three to one"). The hyphen must touch the first number ("5-10", "5- 10");
      a spaced dash ("5 - 10", "5 – 10") is read the same way.
    * A hyphen after a space and before a number is a minus sign, not a range: "5 -3" stays for
      the cardinals, "five minus three"; so is one at the start ("-5" -> "minus five").
    """
    def code(m: re.Match[str]) -> str:
        groups = ", ".join(digit_words(g) for g in re.findall(r"\d+", m.group("code")))
        return (m.group("cue") or "") + groups

    code_forms = r"\(\d{3}\)\s?\d{3}-\d{4}|\d+(?:-\d+){2,}|0\d+-\d+|\d+-0\d+"
    text = re.sub(rf"(?:(?P<cue>\b{_PHONE_CUE}\s+)(?=\d{{3}}-\d{{4}}\b)|(?<![\w.-]))"
                  rf"(?P<code>(?(cue)\d{{3}}-\d{{4}}|(?:{code_forms})))(?![\w-]|\.\d)", code, text)
    return re.sub(r"(?<=\d)(?:-\s?|\s*—\s*)(?=[$£€¥]?\d)", " to ", text)


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


# Words right before a number that make it a year ("in 1999", "summer of 1969", "c. 1500"),
# optionally with "early", "mid" or "late" between ("by late 2024").
_YEAR_CUES = r"in|since|by|until|till|from|of|year|circa|before|after|during|copyright|spring|summer|autumn|fall|winter"
# ... unless what comes before the cue makes the number a quantity: "3 in 1000", "a total of 1500",
# "out of 2000", "increased by 1500".
_QUANTITY_BEFORE_CUE = re.compile(
    r"(?:\d\s+\w+|\b(?i:a|an)\s+\w+\s+of|\b(?i:out|one|all|some|any|each|most|none|total|number|sum|"
    r"population|maximum|minimum|average|percent)\s+of|\b(?i:increased|decreased|rose|risen|fell|"
    r"fallen|grew|grown|dropped|reduced|raised|lowered|multiplied|divided|cut|won|lost|beat|"
    r"exceeded|up|down)\s+by)\s+$")
# Eras with periods, written without them: the G2P reads "AD", "BC", "CE", "BCE" as letters.
_ERA_ABBREVIATIONS = {"A.D.": "AD", "B.C.": "BC", "B.C.E.": "BCE", "C.E.": "CE"}
# Words after a number that make it a year: an era, or an event named by its year.
_YEAR_AFTER = re.compile(r"\s*(?:(?:BCE|BC|CE|AD)\b|'s\b|\s(?i:season|election|elections|census|olympics|"
                         r"games|edition|vintage|model|campaign|championship|championships|world\s+cup)\b)")
# Units and counted things after a number that make it a count whatever comes before it.
_COUNT_AFTER = re.compile(
    r"\s*(?i:bytes?|bits?|[kmgt]i?b|[kmg]bps|ms|[kcm]?m|mg|kg|g|s|hz|[kmg]hz|px|pixels?|rpm|mph|"
    r"km/h|miles?|met(?:er|re)s?|feet|ft|inch(?:es)?|pounds|lbs?|dollars|euros|cents|votes|points|"
    r"pages|words|characters|items|units|steps|calories|kcal|rows|lines|files|samples|frames|"
    r"tokens|degrees|volts|watts|amps|tons|tonnes|litres|liters)\b")
# Words that make a sentence about a date, for a number that stands alone in it ("Founded 1898.").
_DATE_WORDS = re.compile(r"\b(?i:years?|born|died|founded|established|built|opened|released|published|"
                         r"elected|married|graduated|anniversary|century|era|dated|vintage)\b")
# What may follow a lone year in such a sentence: punctuation, the end, or a verb ("1999 was ...").
_LONE_YEAR_AFTER = re.compile(r"\s*(?:[,.;:!?…)\"”—]|$)|\s+(?:was|is|were|will|would|saw|marked|"
                              r"brought|had|has|became|began|ended|remains)\b")
# Between two years of a range or a list ("1990 to 2000", "1990, 1995 and 2000").
_YEAR_JOIN = r"\s*(?:,|&|—|\s(?:to|through|and|or|until|till)\s)\s*"
_YEAR_CANDIDATE = re.compile(r"(?<![\d,.:])(1\d{3}|20\d{2})(?![\d:]|[.,]\d)")
# Between the two ends of a range of years ("1939 to 1945", "1990 — 95").
_YEAR_RANGE_JOIN = r"\s*(?:—|\s(?:to|through|until|till)\s)\s*"


def _expand_years(text: str) -> str:
    """Four-digit numbers from 1000 to 2099 (no thousands separator: "1,500" is always a count)
    read as years ("nineteen ninety-nine") where the context makes them dates, else as counts by
    the cardinal rule ("1500 people" -> "one thousand five hundred people").

    A number is a year, unless a unit or counted noun follows it ("2048 bytes", "in 1500 ms"), when:

    1. a cue comes right before it: in, since, by, until, till, from, of, year, circa / c. / ca.,
       before, after, during, copyright, a season, or a month with or without a day ("May 1999",
       "May 21, 1999"), optionally with early, mid or late between ("by late 2024", "mid-1990");
       not when the cue follows a number or a quantity ("1 in 1000", "a total of 1500", "out of
       2000", "increased by 1500");
    2. an era or an event named by its year follows: AD, BC, CE, BCE (also A.D., B.C.), "'s",
       "season", "election", "olympics", "edition", "vintage", "model" ...;
    3. it is joined to a year by to, through, and, or, until, a dash or a comma ("from 1990 to
       2000", "1990, 1995 and 2000"), or it starts a range whose end is a later year up to a
       century on ("1939-1945", "1990-95");
    4. it is the only number in its sentence, the sentence is about a date (born, founded, built,
       released, year ...), and it ends a clause or is followed by a verb ("Founded 1898.", "1999
       was a good year.").

    Everything else is a count, because a count read as a year ("twelve thirty-four items") is
    wrong while a year read as a count is only formal; and "c."/"ca." before a year read "circa".
    """
    text = re.sub(r"\b(?:c|ca)\.\s?(?=\d{3,4}\b)", "circa ", text)
    eras = _alternatives(_ERA_ABBREVIATIONS)
    text = re.sub(rf"(?<=\d)\s?({eras})", lambda m: " " + _ERA_ABBREVIATIONS[m.group(1)]
                  + ("." if _sentence_end_follows(text, m.end()) else ""), text)
    text = re.sub(rf"({eras})\s?(?=\d)", lambda m: _ERA_ABBREVIATIONS[m.group(1)] + " ", text)
    out: list[str] = []
    last = 0
    previous_year_end = -1
    for m in _YEAR_CANDIDATE.finditer(text):
        out.append(text[last:m.start()])
        last = m.end()
        if _is_year(text, m, joined_to_year=previous_year_end >= 0
                    and re.fullmatch(_YEAR_JOIN, text[previous_year_end:m.start()]) is not None):
            out.append(year_words(int(m.group(1))))
            previous_year_end = m.end()
        else:
            out.append(m.group(1))
    out.append(text[last:])
    return "".join(out)


def _is_year(text: str, m: re.Match[str], *, joined_to_year: bool) -> bool:
    """The cases of :func:`_expand_years` for the candidate ``m``."""
    before, after = text[:m.start()], text[m.end():]
    if _COUNT_AFTER.match(after) or re.search(r"(?:^|[^\w])-$", before):
        return False  # "2048 bytes", "-1500"
    if joined_to_year or _YEAR_AFTER.match(after) or _year_cue_before(before):
        return True
    n = int(m.group(1))
    end = re.match(rf"{_YEAR_RANGE_JOIN}(\d{{2}}|\d{{4}})\b", after)
    if end and not _COUNT_AFTER.match(after[end.end():]):
        other = int(end.group(1))
        if (len(end.group(1)) == 2 and other > n % 100) or 0 < other - n <= 100:
            return True
    sentence = _sentence_around(text, m.start(), m.end())
    return (len(re.findall(r"\d+", sentence)) == 1 and _DATE_WORDS.search(sentence) is not None
            and _LONE_YEAR_AFTER.match(after) is not None)


def _year_cue_before(before: str) -> bool:
    if re.search(r"\bmid-$|\b(?:AD|circa)\s+$|©\s*$", before):
        return True
    month = re.search(rf"\b(?:{'|'.join(_MONTHS)})(?:\s+[\w-]+)?,?\s+$", before)
    cue = re.search(rf"\b(?i:{_YEAR_CUES})(?:\s+(?i:early|mid|late))?\s+$", before)
    return month is not None or (cue is not None and not _QUANTITY_BEFORE_CUE.search(before[:cue.end()]))


def _sentence_around(text: str, start: int, end: int) -> str:
    """The rough sentence holding ``text[start:end]``: from after the last sentence mark before
    it to the next one after it."""
    head = max((m.end() for m in re.finditer(r"[.!?…]\s", text[:start])), default=0)
    tail = re.search(r"[.!?…](?:\s|$)", text[end:])
    return text[head:end + (tail.start() if tail else len(text) - end)]


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
    _expand_dates,
    _expand_hyphenated_numbers,
    _expand_money,
    _expand_times,
    _expand_percentages,
    _expand_ordinals,
    _expand_decimals,
    _expand_decades,
    _expand_years,
    _expand_cardinals,
    _expand_symbols,
)
