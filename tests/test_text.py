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
