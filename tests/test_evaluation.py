"""The evaluation harness: metrics by hand-computed cases, manifest errors, the plot, the report's
summaries, the harness's choice of speaker references, the optional extras on real speech, and
an end-to-end run on RAVDESS clips with the shipped recognizer."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import emosynth.recognizer
from emosynth.emotions import CIRCUMPLEX, PRIMARY_EMOTIONS
from emosynth.errors import ManifestError, MissingExtraError
from emosynth.evaluation import (
    ClipResult,
    EmotionAccuracy,
    EvaluationReport,
    ManifestRow,
    QualityEstimator,
    SpeakerEncoder,
    SpeechQuality,
    Transcriber,
    confusion_matrix,
    evaluate,
    intensity_monotonicity,
    log_mel_distance,
    normalise_text,
    pearson,
    read_manifest,
    save_confusion_png,
    unweighted_accuracy,
    weighted_accuracy,
    word_error_rate,
)
from emosynth.recognizer import EmotionScores

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
RAVDESS_CODES = {"01": "neutral", "03": "joy", "04": "sadness", "05": "anger", "06": "fear",
                 "07": "disgust", "08": "surprise"}


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not RAVDESS.is_dir():
        pytest.skip(f"needs the RAVDESS corpus at {RAVDESS}, which this checkout lacks")
    return RAVDESS


def ravdess_clip(root: Path, emotion: str, intensity: str, statement: str, repetition: str, actor: int) -> Path:
    return root / f"Actor_{actor:02d}" / f"03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor:02d}.flac"


def load_16k(path: Path) -> np.ndarray:
    from emosynth.audio import load_audio

    return load_audio(path, target_rate_hz=16_000).samples


# -- metrics ------------------------------------------------------------------------------------
def test_ua_and_wa_differ_on_unbalanced_classes():
    y_true = ["a", "a", "a", "a", "b", "c"]
    y_pred = ["a", "a", "a", "a", "a", "c"]
    assert weighted_accuracy(y_true, y_pred) == pytest.approx(5 / 6)
    assert unweighted_accuracy(y_true, y_pred, ["a", "b", "c"]) == pytest.approx((1 + 0 + 1) / 3)
    # A label that is never a target does not dilute UA.
    assert unweighted_accuracy(y_true, y_pred, ["a", "b", "c", "d"]) == pytest.approx(2 / 3)


def test_confusion_rows_are_targets_and_columns_predictions():
    m = confusion_matrix(["a", "a", "b", "c"], ["b", "a", "b", "a"], ["a", "b", "c"])
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="'z'"):
        confusion_matrix(["a"], ["z"], ["a", "b"])
    with pytest.raises(ValueError, match="length|labels"):
        confusion_matrix(["a", "b"], ["a"], ["a", "b"])


def test_accuracy_of_nothing_is_nan():
    assert math.isnan(weighted_accuracy([], []))
    assert math.isnan(unweighted_accuracy([], [], ["a"]))


def test_emotion_accuracy_record():
    acc = EmotionAccuracy.from_labels(["joy", "joy", "anger"], ["joy", "fear", "anger"], PRIMARY_EMOTIONS)
    assert acc.n == 3 and acc.ua == pytest.approx(0.75) and acc.wa == pytest.approx(2 / 3)
    assert acc.classes_present == ("joy", "anger")
    assert acc.recall()["joy"] == pytest.approx(0.5) and math.isnan(acc.recall()["neutral"])
    d = json.loads(json.dumps(acc.to_dict(), allow_nan=False))
    assert d["recall"]["neutral"] is None and d["recall"]["anger"] == 1.0
    assert np.array(d["confusion"]).shape == (7, 7) and np.array(d["confusion"]).sum() == 3


def test_intensity_monotonicity():
    x = [0.25, 0.5, 0.75, 1.0]
    assert intensity_monotonicity(x, [0.1, 0.2, 0.4, 0.9]) == pytest.approx(1.0)
    assert intensity_monotonicity(x, [0.9, 0.4, 0.2, 0.1]) == pytest.approx(-1.0)
    # ranks 1,3,2,4: rho = 1 - 6 * (0 + 1 + 1 + 0) / (4 * (16 - 1)) = 0.8
    assert intensity_monotonicity(x, [0.1, 0.3, 0.2, 0.6]) == pytest.approx(0.8)


def test_correlations_are_nan_when_undefined():
    assert math.isnan(intensity_monotonicity([0.5, 1.0], [0.2, 0.4]))  # two points
    assert math.isnan(intensity_monotonicity([1.0, 1.0, 1.0], [0.1, 0.2, 0.3]))  # constant input
    assert math.isnan(pearson([1, 2, 3], [5, 5, 5]))
    assert math.isnan(pearson([1, 2, float("nan")], [1, 2, 3]))  # two finite pairs left
    # A nan pair is dropped, the rest still count.
    assert intensity_monotonicity([0, 0.5, 1, 0.7], [0.1, 0.5, 0.9, float("nan")]) == pytest.approx(1.0)


def test_pearson_hand_computed():
    # dx = -1, 0, 1; dy = -7/3, -1/3, 8/3: r = 5 / sqrt(2 * 114/9) = 15 / sqrt(228)
    assert pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(15 / math.sqrt(228))
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_word_error_rate():
    assert word_error_rate("the cat sat", "the cat sat down") == (1, 3)
    assert word_error_rate("a b c d", "a x d") == (2, 4)  # one substitution, one deletion
    assert word_error_rate("The cat, sat.", "the  CAT sat!") == (0, 3)
    assert word_error_rate("", "hello there") == (2, 0)
    assert word_error_rate("don't stop", "dont stop") == (1, 2)  # apostrophes inside words count


def test_log_mel_distance_is_zero_for_the_same_clip_and_log_2_for_half_the_level():
    x = np.random.default_rng(0).normal(size=24_000).astype(np.float32)  # energy in every band
    assert log_mel_distance(x, x, sample_rate_hz=24_000) == 0.0
    assert log_mel_distance(x, 0.5 * x, sample_rate_hz=24_000) == pytest.approx(math.log(2), rel=0.01)
    with pytest.raises(ValueError, match="one length"):
        log_mel_distance(x, x[:-1], sample_rate_hz=24_000)


def test_normalise_text_spells_small_numbers():
    assert normalise_text("I have 5 cats") == normalise_text("i have five cats") == "i have five cats"
    assert normalise_text("21 dogs, 40 birds") == "twenty one dogs forty birds"
    assert normalise_text("twenty-one") == "twenty one"
    assert normalise_text("'Don\u2019t' -- STOP.") == "don't stop"
    assert normalise_text("room 101, 1,000 chairs") == "room 101 1000 chairs"
    assert word_error_rate("Kids are 5", "kids are five.") == (0, 3)


# -- manifest -----------------------------------------------------------------------------------
@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    folder.mkdir()
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000)
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, tone, 16000)
    return folder


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_csv_manifest(audio_dir: Path, tmp_path: Path):
    m = write(tmp_path / "m.csv", "File,Emotion,intensity,text,speaker,valence,extra\n"
              "a.wav,JOY,0.5,Hello there,v1,,x\n\n"
              "b.wav, sadness ,,,,0.2,\n")
    rows = read_manifest(m, audio_dir)
    assert [r.file for r in rows] == ["a.wav", "b.wav"]
    a, b = rows
    assert (a.emotion, a.intensity, a.text, a.speaker, a.line) == ("joy", 0.5, "Hello there", "v1", 2)
    assert a.valence == pytest.approx(CIRCUMPLEX["joy"].valence * 0.5)
    assert a.arousal == pytest.approx(CIRCUMPLEX["joy"].arousal * 0.5)
    assert (b.emotion, b.intensity, b.text, b.speaker, b.line) == ("sadness", 1.0, None, "default", 4)
    assert b.valence == 0.2 and b.arousal == pytest.approx(CIRCUMPLEX["sadness"].arousal)
    assert b.path == audio_dir / "b.wav"


def test_read_jsonl_manifest_and_default_audio_folder(audio_dir: Path):
    m = write(audio_dir / "m.jsonl", '{"file": "a.wav", "emotion": "anger", "intensity": 0}\n\n'
              '{"file": "b.wav", "emotion": "Neutral", "text": null}\n')
    rows = read_manifest(m)  # files are relative to the manifest's folder by default
    assert [(r.emotion, r.intensity, r.line) for r in rows] == [("anger", 0.0, 1), ("neutral", 1.0, 3)]
    assert rows[0].target == "neutral" and rows[1].target == "neutral"
    assert rows[0].valence == 0.0 and rows[0].arousal == 0.0


def test_manifest_takes_any_emotion_spec(audio_dir: Path, tmp_path: Path):
    m = write(tmp_path / "m.csv", 'file,emotion,intensity\na.wav,"joy:0.5,surprise:0.3",\n'
              "b.wav,anger,1.5\na.wav,-joy:0.5,\nb.wav,\"va:0.6,0.4\",\n")
    mix, strong, negated, va = read_manifest(m, audio_dir)
    assert (mix.emotion, mix.intensity, mix.target) == ("joy", pytest.approx(0.8), "joy")
    assert mix.valence == pytest.approx(0.5 * CIRCUMPLEX["joy"].valence + 0.3 * CIRCUMPLEX["surprise"].valence)
    assert (strong.emotion, strong.intensity) == ("anger", 1.5)
    assert strong.arousal == pytest.approx(min(1.0, 1.5 * CIRCUMPLEX["anger"].arousal))
    assert negated.target == "neutral" and negated.valence == pytest.approx(-0.5 * CIRCUMPLEX["joy"].valence)
    assert va.valence == pytest.approx(0.6) and va.arousal == pytest.approx(0.4)


BAD_CSV = [  # (manifest text, what the error must say)
    ("path,emotion\na.wav,joy\n", r"no 'file' column \(columns found: emotion, path\)"),
    ("file,label\na.wav,joy\n", r"no 'emotion' column.*required: file, emotion"),
    ("file,emotion\na.wav,hapy\n", r"line 2: emotion: bad emotion spec 'hapy'.*did you mean"),
    ("file,emotion,intensity\na.wav,joy,strong\n", r"line 2: intensity 'strong' is not a number from 0 to 1.5"),
    ("file,emotion,intensity\na.wav,joy,1.6\n", r"line 2: intensity '1.6' is not a number from 0 to 1.5"),
    ("file,emotion,intensity\na.wav,joy:0.5,0.5\n", r"line 2: emotion 'joy:0.50' is a spec and carries its own intensity"),
    ("file,emotion,intensity\na.wav,joy,nan\n", r"line 2: intensity 'nan'"),
    ("file,emotion,arousal\na.wav,joy,-2\n", r"line 2: arousal '-2' is not a number from -1 to 1"),
    ("file,emotion\nmissing.wav,joy\n", r"line 2: audio file 'missing.wav' not found in .*clips"),
    ("file,emotion\n,joy\n", r"line 2: the file cell is empty"),
    ("file,emotion\n", r"the manifest is empty"),
    ("", r"the manifest is empty"),
    ("file,emotion\n\n  \n", r"the manifest is empty"),
]
BAD_JSONL = [
    ('{"file": "a.wav", "emotion": "joy"}\n{"file": "b.wav", "emotion": \n', r"line 2: not valid JSON"),
    ('{"file": "a.wav", "emotion": "joy"}\n["b.wav", "joy"]\n', r"line 2: a list, not a JSON object"),
    ('{"path": "a.wav", "emotion": "joy"}\n', r"no 'file' column"),
    ('{"file": "a.wav", "emotion": "joy", "intensity": true}\n', r"line 1: intensity 'True'"),
]


@pytest.mark.parametrize("name, text, message",
                         [("m.csv", *case) for case in BAD_CSV] + [("m.jsonl", *case) for case in BAD_JSONL])
def test_bad_manifests(audio_dir: Path, tmp_path: Path, name: str, text: str, message: str):
    with pytest.raises(ManifestError, match=message):
        read_manifest(write(tmp_path / name, text), audio_dir)


def test_manifest_lists_every_bad_row(audio_dir: Path, tmp_path: Path):
    m = write(tmp_path / "m.csv", "file,emotion\na.wav,joy\nnope.wav,joy\nb.wav,calm\n")
    with pytest.raises(ManifestError, match="2 bad row") as info:
        read_manifest(m, audio_dir)
    assert "line 3: audio file 'nope.wav'" in str(info.value)
    assert "line 4: emotion: bad emotion spec 'calm'" in str(info.value)


def test_unreadable_manifests(audio_dir: Path, tmp_path: Path):
    with pytest.raises(ManifestError, match="no such manifest file"):
        read_manifest(tmp_path / "absent.csv", audio_dir)
    binary = tmp_path / "m.csv"
    binary.write_bytes(b"file,emotion\n\xff\xfe\x00garbage\n")
    with pytest.raises(ManifestError, match="cannot be read as UTF-8"):
        read_manifest(binary, audio_dir)


# -- plot ---------------------------------------------------------------------------------------
def test_confusion_png_is_written_atomically(tmp_path: Path):
    out = tmp_path / "plots" / "confusion.png"
    counts = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    save_confusion_png(counts, ["a", "b", "c"], out, title="test")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert [p.name for p in out.parent.iterdir()] == ["confusion.png"]  # no .part left behind
    with pytest.raises(ValueError, match=r"shape \(3, 3\), expected \(2, 2\)"):
        save_confusion_png(counts, ["a", "b"], out, title="x")
    assert out.read_bytes() == data and not list(out.parent.glob("*.part"))


# -- report summaries (from per-clip results, no models) --------------------------------------------
def scores(label: str, p_label: float) -> EmotionScores:
    rest = (1 - p_label) / 6
    p = np.array([p_label if e == label else rest for e in PRIMARY_EMOTIONS])
    return EmotionScores.from_probabilities(p, speaker_normalised=True)


def clip(file, emotion, read_as, *, intensity=1.0, p=0.6, speaker="s1", errors=None, words=None, sim=None,
         ovrl=None):
    target = "neutral" if intensity == 0 else emotion
    point = CIRCUMPLEX[emotion]
    quality = None if ovrl is None else SpeechQuality(overall=ovrl, signal=ovrl + 0.5, background=4.0, p808=ovrl + 1)
    return ClipResult(file=file, speaker=speaker, emotion=emotion, intensity=intensity, target=target,
                      target_valence=point.valence * intensity, target_arousal=point.arousal * intensity,
                      scores=scores(read_as, p), mode="speaker", n_reference=1,
                      word_errors=errors, n_words=words, similarity=sim, quality=quality)


@pytest.fixture
def built_report() -> EvaluationReport:
    clips = [
        clip("n1", "neutral", "neutral", errors=0, words=6),
        clip("n2", "neutral", "sadness", errors=1, words=6, speaker="s2"),
        clip("j0", "joy", "neutral", intensity=0.0, errors=0, words=4),  # counts as neutral
        clip("j1", "joy", "surprise", intensity=0.3, p=0.4, errors=1, words=5, sim=0.9),
        clip("j2", "joy", "joy", intensity=0.6, p=0.5, errors=2, words=5, sim=0.8),
        clip("j3", "joy", "joy", intensity=1.0, p=0.9, errors=3, words=5, sim=0.6),
        clip("a1", "anger", "anger", errors=2, words=6, speaker="s2", sim=0.5),
        clip("a2", "anger", "fear", intensity=0.5, speaker="s2"),
    ]
    return EvaluationReport.build(clips, [], with_asr=True, with_speaker=True)


def test_report_accuracy_counts_intensity_zero_as_neutral(built_report: EvaluationReport):
    acc = built_report.accuracy
    assert acc.n == 8 and int(acc.confusion.sum()) == 8
    n, j, a = (PRIMARY_EMOTIONS.index(e) for e in ("neutral", "joy", "anger"))
    assert acc.confusion[n].sum() == 3 and acc.confusion[n, n] == 2  # n1 and j0 read as neutral
    assert acc.classes_present == ("neutral", "joy", "anger")
    assert acc.ua == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)
    assert acc.wa == pytest.approx(5 / 8)


def test_report_monotonicity_needs_three_intensities(built_report: EvaluationReport):
    # joy at 0, 0.3, 0.6, 1.0 with p(joy) ~0.067, 0.1, 0.5, 0.9 (j0 read as neutral, j1 as surprise)
    assert built_report.monotonicity == {"joy": pytest.approx(1.0)}  # anger has only 2 intensities
    assert built_report.mean_monotonicity == pytest.approx(1.0)
    assert -1 <= built_report.valence_r <= 1 and -1 <= built_report.arousal_r <= 1


def test_report_wer_is_pooled_and_compared_with_own_neutral(built_report: EvaluationReport):
    wer = built_report.wer
    assert wer.n_clips == 7 and wer.n_words == 37
    assert wer.corpus == pytest.approx(9 / 37)
    assert wer.per_emotion["neutral"] == pytest.approx(1 / 16)  # n1, n2, j0
    assert wer.per_emotion["joy"] == pytest.approx(6 / 15)
    # s1: joy 6/15 minus neutral 0/10; s2: anger 2/6 minus neutral 1/6
    assert wer.delta_to_neutral["joy"] == pytest.approx(0.4)
    assert wer.delta_to_neutral["anger"] == pytest.approx(1 / 6)


def test_report_similarity_and_serialisation(built_report: EvaluationReport, tmp_path: Path):
    sim = built_report.similarity
    assert sim.n_clips == 4 and sim.mean == pytest.approx((0.9 + 0.8 + 0.6 + 0.5) / 4)
    assert sim.per_emotion == {"joy": pytest.approx(2.3 / 3), "anger": pytest.approx(0.5)}
    built_report.save_json(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["n_clips"] == 8 and d["n_errors"] == 0 and len(d["clips"]) == 8
    assert d["clips"][7]["wer"] is None and d["clips"][0]["wer"] == 0.0
    assert d["accuracy"]["classes_present"] == ["neutral", "joy", "anger"]
    text = built_report.format_text(per_clip=True)
    for expected in ("Evaluated 8 clips", "UA 61.1%", "WA 62.5%", "joy +1.00", "Word error rate: 24.3%",
                     "Speaker similarity", "j3"):
        assert expected in text


def test_report_quality_per_emotion_and_its_cost_against_own_neutral(tmp_path: Path):
    clips = [
        clip("n1", "neutral", "neutral", ovrl=3.4), clip("n2", "neutral", "neutral", ovrl=3.2),
        clip("j1", "joy", "joy", ovrl=3.0), clip("j2", "joy", "joy", ovrl=2.6),
        clip("m1", "neutral", "neutral", speaker="s2", ovrl=2.0), clip("a1", "anger", "anger", speaker="s2", ovrl=2.5),
        clip("x1", "anger", "anger", speaker="s3"),  # not measured
    ]
    q = EvaluationReport.build(clips, [], with_quality=True).quality
    assert q.n_clips == 6 and q.overall == pytest.approx(16.7 / 6)
    assert list(q.per_emotion) == ["neutral", "joy", "anger"]
    assert q.per_emotion["neutral"]["overall"] == pytest.approx(8.6 / 3)
    assert q.per_emotion["joy"] == {"overall": pytest.approx(2.8), "signal": pytest.approx(3.3),
                                    "background": pytest.approx(4.0), "p808": pytest.approx(3.8)}
    # s1: joy 2.8 - neutral 3.3; s2: anger 2.5 - neutral 2.0; s3 has no neutral clips
    assert q.overall_delta_to_neutral == {"neutral": pytest.approx(0.0), "joy": pytest.approx(-0.5),
                                          "anger": pytest.approx(0.5)}
    report = EvaluationReport.build(clips, [], with_quality=True)
    assert "Speech quality (DNSMOS" in report.format_text() and "-0.50" in report.format_text()
    report.save_json(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["quality"]["per_emotion"]["joy"]["overall"] == pytest.approx(2.8)
    assert d["clips"][0]["quality"]["overall"] == 3.4 and d["clips"][6]["quality"] is None
    assert EvaluationReport.build(clips, []).quality is None


def test_report_of_no_clips(tmp_path: Path):
    from emosynth.evaluation import ClipError

    report = EvaluationReport.build([], [ClipError("x.wav", "broken")])
    assert report.n_clips == 1 and report.n_errors == 1 and math.isnan(report.accuracy.ua)
    assert "x.wav: broken" in report.format_text()
    report.save_json(tmp_path / "r.json")  # nan must not reach the JSON
    assert json.loads((tmp_path / "r.json").read_text())["accuracy"]["ua"] is None


# -- the harness's choice of reference, with a recognizer double that records what it was given --
class RecordingRecognizer:
    """Stands in for ``Recognizer``: a clip's 'features' are its peak level, which identifies it."""

    def __init__(self):
        self.calls = []

    def features(self, audio):
        return np.array([round(float(np.max(np.abs(audio.samples))), 2)])

    def reference_from_features(self, features):
        assert features.ndim == 2
        return sorted(features[:, 0].tolist())

    def score_features(self, features, *, reference=None):
        self.calls.append((sorted(features[:, 0].tolist()), reference))
        return [scores("joy", 0.5) for _ in features]


def test_evaluate_builds_references_from_other_neutral_clips(tmp_path: Path):
    levels = {"n1": 0.1, "n2": 0.2, "j1": 0.3, "a1": 0.4, "n3": 0.5, "f3": 0.6, "s4": 0.7}
    for name, level in levels.items():
        sf.write(tmp_path / f"{name}.wav", level * np.sin(np.arange(8000) / 5.0), 16000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00garbage, not audio" * 20)
    spec = [("n1", "neutral", "s1"), ("n2", "neutral", "s1"), ("j1", "joy", "s1"), ("a1", "anger", "s1"),
            ("n3", "neutral", "s3"), ("f3", "fear", "s3"), ("s4", "sadness", "s4"), ("bad", "joy", "s1")]
    rows = [ManifestRow(path=tmp_path / f"{f}.wav", file=f"{f}.wav", emotion=e, speaker=s) for f, e, s in spec]
    rows.append(ManifestRow(path=tmp_path / "gone.wav", file="gone.wav", emotion="joy"))
    rec = RecordingRecognizer()
    report = evaluate(rows, recognizer=rec)
    modes = {c.file[:-4]: (c.mode, c.n_reference) for c in report.clips}
    assert modes == {"n1": ("speaker", 1), "n2": ("speaker", 1), "j1": ("speaker", 2), "a1": ("speaker", 2),
                     "n3": ("plain", 0), "f3": ("speaker", 1), "s4": ("plain", 0)}
    calls = {tuple(feats): ref for feats, ref in rec.calls}
    assert calls[(0.1,)] == [0.2] and calls[(0.2,)] == [0.1]  # never its own reference
    assert calls[(0.3, 0.4)] == [0.1, 0.2] and calls[(0.6,)] == [0.5]
    assert calls[(0.5,)] is None and calls[(0.7,)] is None
    assert [e.file for e in report.errors] == ["bad.wav", "gone.wav"]
    assert "cannot be read as audio" in report.errors[0].reason and "no such file" in report.errors[1].reason
    assert report.n_clips == 9

    plain = evaluate(rows[:4], recognizer=RecordingRecognizer(), use_reference=False)
    assert {c.mode for c in plain.clips} == {"plain"}


# -- optional extras ----------------------------------------------------------------------------
def test_broken_extra_names_the_failed_import(monkeypatch, tmp_path: Path):
    from emosynth.evaluation._extras import require

    with pytest.raises(MissingExtraError, match=r"emosynth\[speaker\]'$"):
        require("no_such_module_here", what="X", extra="speaker")
    # Installed, but its own import fails (as webrtcvad 2.0.10 does without pkg_resources).
    (tmp_path / "broken_extra_module.py").write_text("import pkg_resources_gone_for_this_test\n")
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(MissingExtraError, match=r"importing broken_extra_module failed: .*pkg_resources_gone"):
        require("broken_extra_module", what="X", extra="speaker")


def test_missing_extras_are_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes `import faster_whisper` fail
    with pytest.raises(MissingExtraError, match=r"Word error rate.*emosynth\[asr\]"):
        Transcriber()
    monkeypatch.setitem(sys.modules, "resemblyzer", None)
    with pytest.raises(MissingExtraError, match=r"Speaker similarity.*emosynth\[speaker\]"):
        SpeakerEncoder()
    monkeypatch.setitem(sys.modules, "speechmos", None)
    with pytest.raises(MissingExtraError, match=r"Speech quality.*emosynth\[quality\]"):
        QualityEstimator()
    with pytest.raises(MissingExtraError, match="asr"):
        evaluate([], recognizer=RecordingRecognizer(), with_asr=True)


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    pytest.importorskip("faster_whisper")
    return Transcriber()


@pytest.fixture(scope="module")
def speaker_encoder() -> SpeakerEncoder:
    pytest.importorskip("resemblyzer")
    return SpeakerEncoder()


@pytest.fixture(scope="module")
def quality_estimator() -> QualityEstimator:
    pytest.importorskip("speechmos", reason="speech quality needs the extra emosynth[quality]")
    pytest.importorskip("librosa", reason="speech quality needs the extra emosynth[quality]")
    return QualityEstimator()


def test_quality_scores_fall_as_noise_rises(quality_estimator: QualityEstimator):
    """DNSMOS hears what it was made for: kumo's clean speech scores well; the same clip under white
    noise scores lower the louder the noise, most of all in BAK; the scores are deterministic."""
    from emosynth.audio import prepare_array
    from emosynth.synthesizer import Synthesizer

    utt = Synthesizer("kumo").say("The library opens at nine and closes at six.", score=False)
    x = prepare_array(utt.audio, utt.sample_rate_hz, target_rate_hz=16_000).samples
    noise = np.random.default_rng(0).standard_normal(len(x)) * np.sqrt(np.mean(x**2))
    scores = [quality_estimator.score((x + noise * 10 ** (-snr / 20)).astype(np.float32)) for snr in (20, 10, 0)]
    clean = quality_estimator.score(x)
    assert clean == quality_estimator.score(x)
    assert clean.overall > 3.0 and clean.background > 3.8 and 1.0 <= clean.signal <= 5.0
    overall = [clean.overall, *(s.overall for s in scores)]
    background = [clean.background, *(s.background for s in scores)]
    assert overall == sorted(overall, reverse=True) and background == sorted(background, reverse=True)
    assert clean.background - scores[1].background > 1.5  # 10 dB SNR
    with pytest.raises(ValueError, match="at least 0.1 s"):
        quality_estimator.score(x[:800])


def test_transcribes_a_neutral_ravdess_clip(corpus: Path, transcriber: Transcriber):
    hypothesis = transcriber.transcribe(load_16k(ravdess_clip(corpus, "01", "01", "01", "01", 3)))
    errors, words = word_error_rate(STATEMENTS["01"], hypothesis)
    assert words == 6 and errors / words <= 0.25, hypothesis


def test_speaker_embeddings_tell_actors_apart(corpus: Path, speaker_encoder: SpeakerEncoder):
    import torch

    threads = torch.get_num_threads()
    takes = [("01", "01", "01"), ("03", "02", "02"), ("05", "01", "02")]  # (emotion, intensity, statement)
    emb = {actor: [speaker_encoder.embed(load_16k(ravdess_clip(corpus, e, i, s, "01", actor)))
                   for e, i, s in takes] for actor in (1, 2)}
    assert torch.get_num_threads() == threads  # the caller's torch setting survives
    assert emb[1][0].shape == (256,) and np.linalg.norm(emb[1][0]) == pytest.approx(1.0, abs=1e-3)
    sim = speaker_encoder.similarity
    within = np.mean([sim(v[i], v[j]) for v in emb.values() for i in range(3) for j in range(i + 1, 3)])
    across = np.mean([sim(a, b) for a in emb[1] for b in emb[2]])
    assert within > across + 0.05, (within, across)


def test_speaker_embedding_falls_back_to_raw_samples(monkeypatch, speaker_encoder: SpeakerEncoder):
    import resemblyzer

    monkeypatch.setattr(resemblyzer, "preprocess_wav", lambda wav, source_sr=None: wav[:0])
    rng = np.random.default_rng(0)
    e = speaker_encoder.embed((0.1 * rng.standard_normal(16000)).astype(np.float32))
    assert e.shape == (256,) and np.all(np.isfinite(e)) and np.linalg.norm(e) > 0.5


# -- end to end, with the shipped recognizer --------------------------------------------------------
@pytest.fixture(scope="module")
def recognizer():
    weights = emosynth.recognizer.default_weights_path()
    if not weights.exists():
        pytest.skip(f"needs the shipped recognizer weights at {weights}")
    return emosynth.recognizer.Recognizer.load()


def test_evaluate_ravdess_actor_end_to_end(corpus: Path, recognizer, tmp_path: Path, request):
    actor = 1
    folder = corpus / f"Actor_{actor:02d}"
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "emotion", "intensity", "text", "speaker"])
        for code, emotion in RAVDESS_CODES.items():
            for statement in ("01", "02"):
                level = "01" if code == "01" else statement  # neutral exists at normal intensity only
                name = ravdess_clip(corpus, code, level, statement, "01", actor).name
                out.writerow([name, emotion, 0.5 if level == "01" else 1.0, STATEMENTS[statement], "a01"])
        out.writerow([str(tmp_path / "corrupt.wav"), "joy", "1", "", "a01"])
    (tmp_path / "corrupt.wav").write_bytes(bytes(range(256)) * 64)
    rows = read_manifest(manifest, folder)
    rows.append(ManifestRow(path=tmp_path / "deleted.wav", file="deleted.wav", emotion="fear", speaker="a01"))

    transcriber, encoder = _optional(request, "transcriber"), _optional(request, "speaker_encoder")
    quality = _optional(request, "quality_estimator")
    with_asr, with_speaker, with_quality = transcriber is not None, encoder is not None, quality is not None
    report = evaluate(rows, recognizer=recognizer, with_asr=with_asr, with_speaker=with_speaker,
                      with_quality=with_quality, transcriber=transcriber, speaker_encoder=encoder,
                      quality_estimator=quality)

    assert report.n_clips == 16 and len(report.clips) == 14 and report.n_errors == 2
    assert [e.file for e in report.errors] == [str(tmp_path / "corrupt.wav"), "deleted.wav"]
    acc = report.accuracy
    assert acc.labels == PRIMARY_EMOTIONS and acc.classes_present == PRIMARY_EMOTIONS
    assert acc.confusion.shape == (7, 7) and int(acc.confusion.sum()) == acc.n == 14
    assert acc.confusion.sum(axis=1).tolist() == [2] * 7
    assert acc.ua > 0.3, report.format_text()  # chance is 1/7; actor 01 is within the training set
    assert {c.mode for c in report.clips} == {"speaker"}  # two neutral clips give every clip a reference
    assert all(c.n_reference == (1 if c.target == "neutral" else 2) for c in report.clips)
    assert not math.isnan(report.arousal_r)
    if with_asr:
        assert report.wer.n_clips == 14 and report.wer.corpus <= 0.25
    if with_speaker:
        assert report.similarity.n_clips == 12 and 0.3 < report.similarity.mean <= 1.0
    if with_quality:  # RAVDESS is clean studio speech: DNSMOS OVRL about 3
        assert report.quality.n_clips == 14 and 2.5 < report.quality.overall < 3.8
        assert set(report.quality.per_emotion) == set(PRIMARY_EMOTIONS)
    report.save_json(tmp_path / "report.json")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["n_scored"] == 14 and saved["accuracy"]["n"] == 14
    save_confusion_png(acc.confusion, acc.labels, tmp_path / "confusion.png", title="actor 01")
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "Evaluated 16 clips: 14 scored, 2 failed" in report.format_text()


def _optional(request, fixture: str):
    """The fixture's value, or None where it skips (its extra is not installed)."""
    try:
        return request.getfixturevalue(fixture)
    except pytest.skip.Exception:
        return None
