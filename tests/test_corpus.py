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
