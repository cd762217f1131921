from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emosynth.errors import CorpusError
from emosynth.recognizer.corpus import read_corpus


def _touch(folder, name):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(160, np.float32), 16_000)
    return path


def test_ravdess_layout_maps_onto_the_shared_vocabulary(tmp_path):
    names = {
        "03-01-01-01-01-01-01.wav": "neutral",
        "03-01-02-02-01-01-01.wav": "neutral",  # calm is merged into neutral
        "03-01-03-01-01-01-02.flac": "joy",
        "03-01-04-01-01-01-02.flac": "sadness",
        "03-01-05-01-01-01-03.wav": "anger",
        "03-01-06-01-01-01-03.wav": "fear",
        "03-01-07-01-01-01-03.wav": "disgust",
        "03-01-08-01-01-01-03.wav": "surprise",
    }
    for name in names:
        _touch(tmp_path / "Actor_x", name)
    _touch(tmp_path, "03-02-03-01-01-01-01.wav")  # song, not speech: ignored
    _touch(tmp_path, "notes.wav")  # unlabelled: ignored
    clips = read_corpus(tmp_path)
    assert {c.path.name: c.emotion for c in clips} == names
    assert {c.speaker for c in clips} == {"ravdess-01", "ravdess-02", "ravdess-03"}


def test_cremad_layout(tmp_path):
    for name in ["1001_DFA_ANG_XX.wav", "1001_IEO_HAP_HI.wav", "1002_TIE_NEU_XX.wav", "1002_ITS_SAD_LO.wav"]:
        _touch(tmp_path, name)
    clips = read_corpus(tmp_path)
    assert [(c.emotion, c.speaker) for c in clips] == [
        ("anger", "cremad-1001"), ("joy", "cremad-1001"), ("sadness", "cremad-1002"), ("neutral", "cremad-1002"),
    ]


def test_unusable_corpora_are_refused(tmp_path):
    with pytest.raises(CorpusError, match="no such folder"):
        read_corpus(tmp_path / "missing")
    _touch(tmp_path, "hello.wav")
    with pytest.raises(CorpusError, match="RAVDESS layout"):
        read_corpus(tmp_path)
    _touch(tmp_path, "03-01-05-01-01-01-07.wav")
    with pytest.raises(CorpusError, match="only one speaker"):
        read_corpus(tmp_path)


def test_nemo_table_maps_onto_the_shared_vocabulary(tmp_path):
    rows = [("EB0_anger_1.flac", "anger"), ("EB0_happiness_1.flac", "happiness"), ("KS0_surprised_2.flac", "surprised"),
            ("KS0_neutral_2.flac", "neutral"), ("KS0_sadness_2.flac", "sadness"), ("KS0_fear_2.flac", "fear")]
    lines = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"]
    for name, emotion in rows:
        _touch(tmp_path / "audio", name)
        lines.append(f"{name}\t{emotion}\tZdanie.\tzdanie\t{name[:3]}\tfemale\t30")
    (tmp_path / "data.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    clips = read_corpus(tmp_path)
    assert {c.path.name: c.emotion for c in clips} == {
        "EB0_anger_1.flac": "anger", "EB0_happiness_1.flac": "joy", "KS0_surprised_2.flac": "surprise",
        "KS0_neutral_2.flac": "neutral", "KS0_sadness_2.flac": "sadness", "KS0_fear_2.flac": "fear"}
    assert {c.speaker for c in clips} == {"nemo-EB0", "nemo-KS0"} and {c.corpus for c in clips} == {"nemo"}
    assert all(c.path.parent == tmp_path / "audio" for c in clips)


def test_nemo_table_with_an_unknown_emotion_is_refused(tmp_path):
    (tmp_path / "data.tsv").write_text("file_id\temotion\tspeaker_id\nEB0_x_1.flac\tboredom\tEB0\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="line 2: unknown emotion 'boredom'"):
        read_corpus(tmp_path)
    (tmp_path / "data.tsv").write_text("name\tlabel\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="needs the columns file_id, emotion and speaker_id"):
        read_corpus(tmp_path)


def test_corpora_read_together_and_the_same_one_twice_is_refused(tmp_path):
    from emosynth.recognizer.corpus import read_corpora

    for actor in (1, 2):
        _touch(tmp_path / "rav", f"03-01-05-01-01-01-{actor:02d}.wav")
    for speaker in ("EB0", "KS0"):
        _touch(tmp_path / "nemo" / "audio", f"{speaker}_anger_1.flac")
    (tmp_path / "nemo" / "data.tsv").write_text(
        "file_id\temotion\tspeaker_id\nEB0_anger_1.flac\tanger\tEB0\nKS0_anger_1.flac\tanger\tKS0\n", encoding="utf-8")
    clips = read_corpora([tmp_path / "rav", tmp_path / "nemo"])
    assert [c.corpus for c in clips] == ["ravdess", "ravdess", "nemo", "nemo"]
    with pytest.raises(CorpusError, match="give each corpus once"):
        read_corpora([tmp_path / "rav", tmp_path / "rav"])
    with pytest.raises(CorpusError, match="no corpus folder"):
        read_corpora([])
