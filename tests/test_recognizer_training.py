"""The recognizer's training parts: perturbed copies, the masked softmax, folds, encoders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emosynth.audio import load_audio
from emosynth.recognizer.channel import CHANNELS, SPEAKER, SPEAKER_RANGE, channel_for, perturb
from emosynth.recognizer.dataset import CLEAN, CorpusFeatures
from emosynth.errors import ModelError
from emosynth.recognizer.encoders import ENCODERS, encoder_model_dir
from emosynth.recognizer.features import ClipFeatureExtractor, n_features, whisper_log_mel
from emosynth.recognizer.logistic import balanced_weights, fit_masked_logistic
from emosynth.recognizer.train import _design, _pooled_sd, _speaker_folds
from emosynth.recognizer.whisper_encoder import WhisperEncoder, _gelu, read_ct2_variables

SAMPLE = Path(__file__).resolve().parents[1] / "emosynth" / "data" / "samples" / "ravdess-12-anger.flac"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(SAMPLE, target_rate_hz=16_000).samples


def _snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    return 10 * np.log10(np.sum(clean.astype(float) ** 2) / np.sum((noisy - clean).astype(float) ** 2))


def test_every_channel_keeps_length_and_changes_the_signal_reproducibly(speech):
    seen = set()
    for copy in range(1, 80, 2):  # odd copies go through a channel
        kind, y = perturb(speech, SAMPLE.name, copy)
        seen.add(kind)
        assert kind == channel_for(SAMPLE.name, copy)
        assert y.shape == speech.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
        assert np.abs(y - speech).max() > 1e-3, kind
        np.testing.assert_array_equal(y, perturb(speech, SAMPLE.name, copy)[1])  # seeded by name and copy
    assert seen == set(CHANNELS)
    # Another seed or another clip name draws other perturbations.
    assert any(channel_for(SAMPLE.name, c, seed=1) != channel_for(SAMPLE.name, c) for c in range(1, 20, 2))
    assert not np.array_equal(perturb(speech, "other.flac", 1)[1], perturb(speech, SAMPLE.name, 1)[1])


def test_even_copies_move_the_speaker_within_the_range(speech):
    """Copy 2 resamples the clip: its length and its pitch move by one factor in SPEAKER_RANGE, the
    same for every run, another for another clip."""
    t = np.arange(32_000) / 16_000
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6)).astype(np.float32)  # a 150 Hz voice
    factors = []
    for name in (SAMPLE.name, "other.flac", "third.wav"):
        kind, y = perturb(speech, name, 2)
        assert kind == SPEAKER == channel_for(name, 4) and y.dtype == np.float32
        factor = len(speech) / len(y)
        assert SPEAKER_RANGE[0] - 0.01 <= factor <= SPEAKER_RANGE[1] + 0.01
        np.testing.assert_array_equal(y, perturb(speech, name, 2)[1])
        moved = perturb(tone, name, 2)[1]
        spectrum = np.abs(np.fft.rfft(moved * np.hanning(len(moved)), 16 * len(moved)))
        fundamental = np.argmax(spectrum[: 16 * len(moved) * 250 // 16_000]) * 16_000 / (16 * len(moved))
        assert fundamental == pytest.approx(150 * factor, rel=0.005)
        factors.append(factor)
    assert len(set(np.round(factors, 3))) == 3


def test_channels_stay_mild_enough_to_keep_the_emotion(speech):
    rng = np.random.default_rng(3)
    for _ in range(5):
        noisy = CHANNELS["noise"](speech, rng)
        assert 14.5 <= _snr_db(speech, noisy) <= 30.5
    coded = CHANNELS["codec"](speech, rng)
    assert _snr_db(speech, coded) > 5  # an MP3, not a different signal
    vocoded = CHANNELS["vocoder"](speech, rng)
    # The same long-term spectrum (mean log-mel per band) and the same frame-by-frame movement.
    mel, mel_vocoded = whisper_log_mel(speech), whisper_log_mel(vocoded)
    assert np.corrcoef(mel.mean(axis=1), mel_vocoded.mean(axis=1))[0, 1] > 0.95
    assert np.corrcoef(mel.ravel(), mel_vocoded.ravel())[0, 1] > 0.8


def test_own_length_log_mel_covers_the_clip_only(speech):
    mel = whisper_log_mel(speech[:16_000])
    assert mel.shape == (80, 100)
    assert whisper_log_mel(speech[:16_001]).shape == (80, 102)  # padded to a whole encoder frame


def test_whisper_base_is_joined_once_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = encoder_model_dir("base")
    assert folder == tmp_path / "emosynth" / "whisper-base"
    assert (folder / "model.bin").stat().st_size == 145_217_532
    (folder / "model.bin.sha256").write_text("stale\n")  # a damaged stamp makes it rejoin and recheck
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert encoder_model_dir("base") == folder and (folder / "model.bin").stat().st_mtime_ns != mtime
    assert not list(folder.glob("*.part"))


def test_gelu_is_the_exact_erf_gelu_to_float32_rounding():
    """The encoder's own erf approximation: within float32's rounding of the float64 GELU over the
    whole range activations take, exactly 0 at 0, odd tails right (x for large x, 0 for very negative)."""
    from scipy.special import erf

    x = np.concatenate([np.linspace(-12, 12, 20001), [0.0, -30.0, 30.0]]).astype(np.float32)
    exact = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
    ours = _gelu(x)
    assert ours.dtype == np.float32
    assert np.abs(ours - exact).max() < 2e-6 * max(1.0, np.abs(x).max() / 10)
    assert np.abs(ours - exact).max() > 0  # it is an approximation, not scipy's erf by another name
    assert ours[-3] == 0 and ours[-1] == 30.0 and abs(ours[-2]) < 1e-30


@pytest.mark.parametrize("encoder", ["tiny.en", "base"])
def test_numpy_encoder_matches_ctranslate2_and_stops_at_its_block(speech, encoder):
    """Run to its last block (plus the final norm CTranslate2 applies), the encoder gives what
    CTranslate2's own float32 encoder gives; run to a middle block, the states differ from it."""
    ctranslate2 = pytest.importorskip("ctranslate2", reason="the reference encoder comes with the asr extra")
    folder = encoder_model_dir(encoder)
    mel = whisper_log_mel(speech[: 3 * 16_000])
    reference = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32", intra_threads=1)
    expected = np.array(reference.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))[0]
    norm = read_ct2_variables(folder / "model.bin", "encoder/layer_norm/")
    n_blocks = {"tiny.en": 4, "base": 6}[encoder]
    whole = WhisperEncoder(folder / "model.bin")
    assert whole.blocks == n_blocks
    states = whole(mel)
    normed = (states - states.mean(1, keepdims=True)) / np.sqrt(states.var(1, keepdims=True) + 1e-5)
    normed = normed * norm["gamma"].astype(np.float32) + norm["beta"].astype(np.float32)
    assert normed.shape == expected.shape == (150, ENCODERS[encoder].dim)
    assert np.abs(normed - expected).mean() < 1e-4 * np.abs(expected).mean()
    middle = WhisperEncoder(folder / "model.bin", ENCODERS[encoder].block)(mel)
    assert middle.shape == expected.shape and np.abs(middle - states).mean() > 0.1 * np.abs(states).mean()
    with pytest.raises(ModelError, match=f"has {n_blocks} blocks"):
        WhisperEncoder(folder / "model.bin", n_blocks + 1)


def test_feature_sets_concatenate_their_encoders(speech):
    from emosynth.audio import Audio

    audio = Audio(speech, 16_000)
    fused = ClipFeatureExtractor("tiny.en+base", threads=1)(audio)
    tiny = ClipFeatureExtractor("tiny.en", threads=1)(audio)
    assert fused.shape == (n_features("tiny.en+base"),) == (1792,)
    np.testing.assert_allclose(fused[:768], tiny, atol=1e-6)


def test_a_corpus_says_nothing_about_a_class_it_does_not_label():
    """Corpus B has no class 2 and sits apart along feature 3 (as a language would). A plain
    softmax learns "far along feature 3 means not class 2"; the corpus-masked one does not, so a
    class-2 clip of corpus B's kind is still heard as class 2."""
    rng = np.random.default_rng(0)
    n = 600
    y_a, y_b = rng.integers(0, 3, n), rng.integers(0, 2, n)
    x_a = rng.standard_normal((n, 4)) + np.eye(4)[y_a] * 2
    x_b = rng.standard_normal((n, 4)) + np.eye(4)[y_b] * 2
    x_b[:, 3] += 4
    x, y = np.vstack([x_a, x_b]), np.concatenate([y_a, y_b])
    corpus = np.array(["a"] * n + ["b"] * n)
    allowed = np.ones((2 * n, 3), bool)
    masked = allowed.copy()
    masked[n:, 2] = False
    w = balanced_weights(y, corpus)
    probe = np.array([0.0, 0.0, 2.0, 4.0])  # class-2 evidence, corpus B's offset

    def p2(weights, bias):
        logits = weights @ probe + bias
        return np.exp(logits[2]) / np.exp(logits).sum()

    plain, masked_fit = fit_masked_logistic(x, y, allowed, w, 1.0, 3), fit_masked_logistic(x, y, masked, w, 1.0, 3)
    assert p2(*plain) < 0.7 and p2(*masked_fit) > 0.9
    # Feature 3 (which corpus) carries no weight for or against class 2 once masked.
    assert plain[0][:2, 3].mean() - plain[0][2, 3] > 0.4
    assert abs(masked_fit[0][:2, 3].mean() - masked_fit[0][2, 3]) < 0.1
    with pytest.raises(ValueError, match="not among its allowed"):
        fit_masked_logistic(x, np.full(2 * n, 2), masked, w, 1.0, 3)


def test_balanced_weights_even_out_classes_and_corpora():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1, 1, 1])
    g = np.array(["a"] * 4 + ["b"] * 6)
    w = balanced_weights(y, g)
    totals = {(gg, yy): w[(g == gg) & (y == yy)].sum() for gg in "ab" for yy in (0, 1)}
    assert np.allclose(list(totals.values()), 2.5) and np.isclose(w.mean(), 1.0)


def test_folds_hold_speakers_of_every_corpus():
    speakers = np.array([f"ravdess-{i:02d}" for i in range(1, 21)] + [f"nemo-{s}" for s in "ABCDEF"])
    folds = _speaker_folds(speakers, np.array([s.split("-")[0] for s in speakers]), 5, seed=0)
    assert sorted(sum(folds, [])) == sorted(speakers.tolist())
    assert all(any(s.startswith("nemo") for s in f) and sum(s.startswith("ravdess") for s in f) == 4 for f in folds)
    assert sorted(len(f) for f in folds) == [5, 5, 5, 5, 6]


def test_corpus_features_know_which_classes_each_corpus_labels():
    cf = CorpusFeatures(np.zeros((4, 2)), np.array([0, 5, 0, 1]), np.array(["ravdess-01", "ravdess-01", "nemo-A", "nemo-A"]),
                        np.array(["ravdess", "ravdess", "nemo", "nemo"]), np.array([CLEAN] * 4), ("a", "b", "c", "d"))
    classes = cf.corpus_classes()
    assert classes["ravdess"].tolist() == [True, False, False, False, False, True, False]
    assert classes["nemo"].tolist() == [True, True, False, False, False, False, False]


def test_copies_with_the_speaker_moved_train_the_plain_classifier_only():
    """Read against a reference the speaker is known, so the speaker-moved copies join only the plain
    classifier's rows, and they never widen the within-speaker spread references are shrunk to."""
    rng = np.random.default_rng(0)
    n = 12
    channels = np.array([CLEAN] * n + [SPEAKER] * n)
    emotions = np.tile(np.array([0, 0, 0, 1, 2, 3]), 4)
    speakers = np.repeat(["ravdess-01", "ravdess-02"], 6).tolist() * 2
    features = rng.standard_normal((2 * n, 3))
    features[n:] *= 50  # wildly moved copies
    corpus = CorpusFeatures(features, emotions, np.array(speakers), np.array(["ravdess"] * 2 * n), channels,
                            tuple(f"c{i}" for i in range(2 * n)))
    rows = np.arange(2 * n)
    pooled = _pooled_sd(corpus, rows)
    np.testing.assert_allclose(pooled, _pooled_sd(corpus, rows[:n]))
    assert pooled.max() < 5
    assert len(_design(corpus, rows, "plain", pooled).y) == 2 * n
    speaker_rows = _design(corpus, rows, "speaker", pooled)
    assert len(speaker_rows.y) == n and np.abs(speaker_rows.x).max() < 50
