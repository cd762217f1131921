"""English text handling for the voice: number words, normalisation, sentences, phonemes, chunks."""

from __future__ import annotations

import logging

import pytest

from emosynth.errors import EmosynthError
from emosynth.voice import text as text_mod
from emosynth.voice.assets import MAX_TOKENS, vocabulary
from emosynth.voice.errors import TextError
from emosynth.voice.normalize import normalize_text
from emosynth.voice.numwords import cardinal_words, money_words, ordinal_words, time_words, year_words
from emosynth.voice.text import PARAGRAPH_PAUSE_S, PAUSES_S, phonemize, split_sentences, text_to_chunks

# Number words, normalisation and sentence splitting are pure Python; phonemes need the packages.


# -- number words -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n,words",
    [
        (0, "zero"),
        (13, "thirteen"),
        (42, "forty-two"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (1234, "one thousand two hundred thirty-four"),
        (2_000_000, "two million"),
        (-7, "minus seven"),
    ],
)
def test_cardinal_words(n, words):
    assert cardinal_words(n) == words


@pytest.mark.parametrize(
    "n,words",
    [(1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (12, "twelfth"), (20, "twentieth"),
     (21, "twenty-first"), (99, "ninety-ninth"), (100, "one hundredth")],
)
def test_ordinal_words(n, words):
    assert ordinal_words(n) == words


@pytest.mark.parametrize(
    "year,words",
    [(1999, "nineteen ninety-nine"), (1905, "nineteen oh five"), (1900, "nineteen hundred"),
     (2000, "two thousand"), (2005, "two thousand five"), (2024, "twenty twenty-four"),
     (1066, "ten sixty-six")],
)
def test_year_words(year, words):
    assert year_words(year) == words


def test_money_and_time_words():
    assert money_words("5.20", "dollar", "cent") == "five dollars and twenty cents"
    assert money_words("1", "dollar", "cent") == "one dollar"
    assert money_words("0.01", "pound", "penny") == "one penny"
    assert time_words(10, 5) == "ten oh five"
    assert time_words(7, 0) == "seven o'clock"


# -- normalisation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("I have 42 apples.", "I have forty-two apples."),
        ("It is 3.5 metres.", "It is three point five metres."),
        ("She came 21st.", "She came twenty-first."),
        ("Born in 1999.", "Born in nineteen ninety-nine."),
        ("It costs $5.20 today.", "It costs five dollars and twenty cents today."),
        ("Only $0.99!", "Only ninety-nine cents!"),
        ("About 50% of us.", "About fifty percent of us."),
        ("Meet at 10:30.", "Meet at ten thirty."),
        ("Call at 5 p.m. Then eat.", "Call at five pee em. Then eat."),
        ("Mr. and Mrs. Smith met Dr. Jones.", "Mister and Missus Smith met Doctor Jones."),
        ("St. Louis is on Main St. now.", "Saint Louis is on Main Street now."),
        ("Fruit, e.g. apples, i.e. food.", "Fruit, for example apples, that is food."),
        ("Pens, paper, etc. are here.", "Pens, paper, et cetera are here."),
        ("Cats vs. dogs", "Cats versus dogs"),
        ("Tom & Jerry + friends", "Tom and Jerry plus friends"),
        ("The 1990s were loud.", "The nineteen nineties were loud."),
        ("Read pages 5-10.", "Read pages five to ten."),
        ("It was -5 degrees.", "It was minus five degrees."),
        ("1,000,000 people", "one million people"),
        ("Wait... what?", "Wait… what?"),
        ("café", "cafe"),
        # -- four-digit numbers: years only in date contexts (normalize._expand_years)
        # a cue before the number makes it a year
        ("It happened in 1999.", "It happened in nineteen ninety-nine."),
        ("Since 2024, prices rose.", "Since twenty twenty-four, prices rose."),
        ("By late 2024 it was done.", "By late twenty twenty-four it was done."),
        ("The summer of 1969 was hot.", "The summer of nineteen sixty-nine was hot."),
        ("It was built c. 1850.", "It was built circa eighteen fifty."),
        ("Wait until 2030!", "Wait until twenty thirty!"),
        ("On May 21, 1999 it rained.", "On May twenty-first, nineteen ninety-nine it rained."),
        ("Released on 2024-05-21.", "Released on May twenty-first, twenty twenty-four."),
        # ... or an era or event after it, a range of years, a lone number in a sentence about a date
        ("It fell in 1066 A.D. Then it was rebuilt.", "It fell in ten sixty-six AD. Then it was rebuilt."),
        ("The 2020 election was close.", "The twenty twenty election was close."),
        ("The war lasted 1939-1945.", "The war lasted nineteen thirty-nine to nineteen forty-five."),
        ("From 1990 to 2000 it grew.", "From nineteen ninety to two thousand it grew."),
        ("Founded 1898.", "Founded eighteen ninety-eight."),
        ("1999 was a good year.", "nineteen ninety-nine was a good year."),
        # otherwise a count
        ("1500 people came.", "one thousand five hundred people came."),
        ("The file is 2048 bytes.", "The file is two thousand forty-eight bytes."),
        ("In 2048 bytes it fits.", "In two thousand forty-eight bytes it fits."),
        ("A total of 1500 voted.", "A total of one thousand five hundred voted."),
        ("Sales increased by 1250.", "Sales increased by one thousand two hundred fifty."),
        ("Room 1204 is free.", "Room one thousand two hundred four is free."),
        ("In 1,500 cases it failed.", "In one thousand five hundred cases it failed."),
        # -- numbers joined by hyphens: codes, ranges or minus signs
        ("Call 555-123-4567 now.", "Call five five five, one two three, four five six seven now."),
        ("Call (555) 123-4567.", "Call five five five, one two three, four five six seven."),
        ("Dial 555-1234.", "Dial five five five, one two three four."),
        ("ISBN 978-3-16-148410-0", "ISBN nine seven eight, three, one six, one four eight four one zero, zero"),
        ("They won 3-1.", "They won three to one."),
        ("Pay $5-$10 each.", "Pay five dollars to ten dollars each."),
        ("Open 10:30-11:00.", "Open ten thirty to eleven o'clock."),
        ("Save 10-20%.", "Save ten to twenty percent."),
        ("Read pages 5 - 10.", "Read pages five to ten."),
        ("Lows were 5 -3 -1.", "Lows were five minus three minus one."),
        ("It was −5°C.", "It was minus five degrees Celsius."),
        ("From May 21-23.", "From May twenty-first to twenty-third."),
        # -- titles and street types, by what precedes and follows them
        ("I called the Dr.", "I called the Doctor."),
        ("We live on Mulholland Dr.", "We live on Mulholland Drive."),
        ("Take Mulholland Dr., then turn.", "Take Mulholland Drive, then turn."),
        ("Mulholland Dr. is closed.", "Mulholland Drive is closed."),
        ("Thanks, Dr. Lee.", "Thanks, Doctor Lee."),
        ("Meet Dr. Lee at Elm St. Then eat.", "Meet Doctor Lee at Elm Street. Then eat."),
        ("Visit St. Paul on 5th St.", "Visit Saint Paul on fifth Street."),
        ("Rev. King met Gen. Lee.", "Reverend King met General Lee."),
    ],
)
def test_normalisation(raw, expected):
    assert normalize_text(raw) == expected


def test_normalisation_drops_emoji_and_other_scripts_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="emosynth.voice.normalize"):
        assert normalize_text("Hello 😀 world こんにちは") == "Hello world"
    assert "😀" in caplog.text


# -- sentences ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Dr. Smith arrived. He sat down.", ["Doctor Smith arrived.", "He sat down."]),
        ("Pi is 3.14. That is all.", ["Pi is three point one four.", "That is all."]),
        ("J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
        ('"Really?" she asked. Yes!', ['"Really?" she asked.', "Yes!"]),
        ("Wait… what?! No.", ["Wait… what?!", "No."]),
        ("We have pens, etc. Then we go.", ["We have pens, et cetera.", "Then we go."]),
        # no cut after a title before a name; a cut where a title or street type ends a sentence
        ("I saw Dr. Smith. He waved.", ["I saw Doctor Smith.", "He waved."]),
        ("We met Mr. Jones and Mrs. Lee. They left.", ["We met Mister Jones and Missus Lee.", "They left."]),
        ("Go to St. Paul. It is cold.", ["Go to Saint Paul.", "It is cold."]),
        ("Rev. King spoke. Gen. Lee listened.", ["Reverend King spoke.", "General Lee listened."]),
        ("We live on Elm St. The house is red.", ["We live on Elm Street.", "The house is red."]),
        ("Visit Mulholland Dr. Then go home.", ["Visit Mulholland Drive.", "Then go home."]),
        ("Call the Dr. Then rest.", ["Call the Doctor.", "Then rest."]),
        ("It fell in 1066 A.D. Then it was rebuilt.", ["It fell in ten sixty-six AD.", "Then it was rebuilt."]),
    ],
)
def test_sentence_split(raw, expected):
    assert [s.text for s in split_sentences(raw)] == expected


def test_paragraphs_end_with_a_longer_pause():
    chunks = text_to_chunks("First part, with a comma. Second sentence!\n\nNew paragraph here. The end.")
    assert [c.end_mark for c in chunks] == [".", "!", ".", "."]
    assert chunks[0].pause_after_s == PAUSES_S["."]
    assert chunks[1].pause_after_s == PARAGRAPH_PAUSE_S
    assert chunks[-1].pause_after_s == 0.0  # nothing follows the last chunk
    assert PAUSES_S["."] > PAUSES_S[","] and PAUSES_S["?"] >= PAUSES_S["."]


# -- phonemes and chunks ------------------------------------------------------------------------
def test_chunks_hold_kokoro_tokens_for_their_phonemes():
    vocab = vocabulary()
    chunk = text_to_chunks("Hello there, how are you today?")[0]
    assert chunk.phonemes.startswith("həlˈO") and chunk.phonemes.endswith("?")
    assert chunk.token_ids == tuple(vocab[ch] for ch in chunk.phonemes)
    assert chunk.end_mark == "?"


def test_unknown_phoneme_symbols_are_replaced_or_dropped_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(text_mod, "_g2p", lambda text: "bɝd☃ ɫo")
    with caplog.at_level(logging.WARNING, logger="emosynth.voice.text"):
        assert phonemize("bird") == "bɜɹd lo"
    assert "☃" in caplog.text


def test_a_long_sentence_is_cut_at_clauses_into_chunks_of_at_most_510_tokens():
    clause = "this clause keeps on going with many ordinary words in it"
    text = ", ".join([clause] * 14) + "."
    chunks = text_to_chunks(text)
    assert len(chunks) >= 2
    assert all(1 <= c.n_tokens <= MAX_TOKENS for c in chunks)
    assert all(c.end_mark == "," for c in chunks[:-1])  # cut after commas, not inside clauses
    assert " ".join(c.text for c in chunks) == normalize_text(text)


def test_a_long_run_without_punctuation_is_cut_between_words():
    text = " ".join(["banana"] * 120)
    chunks = text_to_chunks(text)
    assert len(chunks) >= 2 and all(c.n_tokens <= MAX_TOKENS for c in chunks)
    assert " ".join(c.text for c in chunks) == text
    assert chunks[0].end_mark == "" and 0 < chunks[0].pause_after_s < PAUSES_S[","]


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["", "   \n\t ", "!!!", "... ?", "😀🎉", "こんにちは"])
def test_unspeakable_text_is_a_clear_error(bad):
    with pytest.raises(TextError, match="give English words") as info:
        text_to_chunks(bad)
    assert isinstance(info.value, EmosynthError)


def test_text_must_be_a_string():
    with pytest.raises(TextError, match="must be a string"):
        text_to_chunks(42)  # type: ignore[arg-type]
