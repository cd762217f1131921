"""English number words: cardinals, ordinals, years, decimals, money and clock times.

Written here rather than taken from ``num2words`` (LGPL) so the voice stage stays permissively
licensed. Words use hyphens inside tens ("forty-two") and no "and" after hundreds
("one hundred five"), the American reading the G2P dictionaries were built for.

>>> cardinal_words(1234)
'one thousand two hundred thirty-four'
>>> ordinal_words(21)
'twenty-first'
>>> year_words(1999)
'nineteen ninety-nine'
"""

from __future__ import annotations

__all__ = [
    "cardinal_words",
    "ordinal_words",
    "year_words",
    "decimal_words",
    "money_words",
    "time_words",
    "MAX_CARDINAL",
]

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
#: Scale words by power of a thousand; numbers at or above the last scale x 1000 are read digit by digit.
_SCALES = ("", "thousand", "million", "billion", "trillion")
MAX_CARDINAL = 1000 ** len(_SCALES) - 1
_DIGITS = _ONES[:10]
# Irregular ordinals; every other ordinal adds "th" (with "y" -> "ie" for the tens).
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def _under_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest or not hundreds:
        words.append(_ONES[rest])
    return " ".join(words)


def cardinal_words(n: int) -> str:
    """Words for an integer, e.g. ``-1005`` -> "minus one thousand five".

    Magnitudes above :data:`MAX_CARDINAL` are read digit by digit, as people read long codes.
    """
    if n < 0:
        return f"minus {cardinal_words(-n)}"
    if n > MAX_CARDINAL:
        return digit_words(str(n))
    if n < 1000:
        return _under_thousand(n)
    groups: list[str] = []
    for scale in _SCALES:
        n, group = divmod(n, 1000)
        if group:
            groups.append(f"{_under_thousand(group)} {scale}".strip())
    return " ".join(reversed(groups))


def digit_words(digits: str) -> str:
    """Each digit of a digit string as a word: "314" -> "three one four"."""
    return " ".join(_DIGITS[int(d)] for d in digits)


def ordinal_words(n: int) -> str:
    """Ordinal words for a non-negative integer: 3 -> "third", 42 -> "forty-second"."""
    words = cardinal_words(n)
    head, sep, last = words.rpartition(" ")
    stem, hyphen, unit = last.rpartition("-")
    if unit in _ORDINAL_IRREGULAR:
        unit = _ORDINAL_IRREGULAR[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return f"{head}{sep}{stem}{hyphen}{unit}"


def year_words(year: int) -> str:
    """A year read as English speakers read years: 1999 -> "nineteen ninety-nine",
    1905 -> "nineteen oh five", 1900 -> "nineteen hundred", 2005 -> "two thousand five",
    2024 -> "twenty twenty-four". Years outside 1000-9999 are read as cardinals. Whether a
    number in text is a year at all is decided from its context by the normaliser
    (``normalize._expand_years``)."""
    if not 1000 <= year <= 9999:
        return cardinal_words(year)
    high, low = divmod(year, 100)
    if year % 1000 < 10:
        return cardinal_words(year)  # 2000-2009 and the like: "two thousand five"
    if low == 0:
        return f"{cardinal_words(high)} hundred"
    low_words = f"oh {_ONES[low]}" if low < 10 else cardinal_words(low)
    return f"{cardinal_words(high)} {low_words}"


def decimal_words(text: str) -> str:
    """A decimal numeral as read aloud: "3.14" -> "three point one four", "-0.5" -> "minus zero
    point five". Commas in the integer part are thousands separators."""
    sign = "minus " if text.startswith("-") else ""
    whole, _, frac = text.lstrip("+-").replace(",", "").partition(".")
    words = cardinal_words(int(whole or "0"))
    if frac:
        words += f" point {digit_words(frac)}"
    return sign + words


def money_words(amount: str, major: str, minor: str) -> str:
    """An amount of money: ("5.20", "dollar", "cent") -> "five dollars and twenty cents".

    Units are given in the singular; "penny", "yen" and "sen" have irregular plurals.

    More than two decimals, as in "$1.005", is read as a decimal number of the major unit.
    """
    whole_text, _, frac = amount.replace(",", "").partition(".")
    whole = int(whole_text or "0")
    if len(frac) > 2:
        return f"{decimal_words(amount)} {_plural(major, 2)}"
    cents = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if whole or not cents:
        parts.append(f"{cardinal_words(whole)} {_plural(major, whole)}")
    if cents:
        parts.append(f"{cardinal_words(cents)} {_plural(minor, cents)}")
    return " and ".join(parts)


_IRREGULAR_PLURALS = {"penny": "pence", "yen": "yen", "sen": "sen"}


def _plural(unit: str, count: int) -> str:
    if count == 1:
        return unit
    return _IRREGULAR_PLURALS.get(unit, unit + "s")


def time_words(hours: int, minutes: int) -> str:
    """A clock time: (10, 30) -> "ten thirty", (10, 5) -> "ten oh five", (10, 0) -> "ten o'clock",
    (0, 15) -> "zero fifteen"."""
    if minutes == 0:
        return f"{cardinal_words(hours)} o'clock"
    minute_words = f"oh {_ONES[minutes]}" if minutes < 10 else cardinal_words(minutes)
    return f"{cardinal_words(hours)} {minute_words}"
