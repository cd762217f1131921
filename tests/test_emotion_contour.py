"""The emotion contour (emosynth.voice.emotion_contour, fitted by emosynth.voice.learning.contour_fit).

Inference is numpy (``say`` needs no torch) and must compute what the torch model it was fitted as
computes; the shift must be linear in the spec's weights (mixtures add, intensity scales,
negation subtracts, neutral is no change) and touch voiced steps only; and a short real fit on
RAVDESS clips must bring Kokoro's predicted F0 closer to the recordings it learned from.
"""

from __future__ import annotations

import numpy as np
import pytest

from emosynth.emotions import PRIMARY_EMOTIONS, parse_emotion
from emosynth.errors import ModelError
from emosynth.voice.backbone import ProsodyPrediction
from emosynth.voice.emotion_contour import CONTOUR_EMOTIONS, EmotionContour, curve_features, speech_steps

torch = pytest.importorskip("torch", reason="the contour fit needs torch (extra: speaker)")

from emosynth.voice.learning.contour_fit import (  # noqa: E402
    ContourExample,
    ContourNet,
    ContourSettings,
    contour_examples,
    contour_losses,
    fit_contour,
)


def _example(seed: int = 0) -> ContourExample:
    rng = np.random.default_rng(seed)
    frames = np.array([6, 3, 4, 6, 2, 7, 5, 9])
    steps = 2 * int(frames.sum())
    f0 = np.where(rng.random(steps) > 0.3, 120.0 + 20.0 * rng.standard_normal(steps), 12.0)
    energy = 3.0 * rng.standard_normal(steps)
    speech = speech_steps(frames)
    return ContourExample("joy", 1.0, "s", "x", frames, curve_features(f0, energy, speech), np.log(f0), energy,
                          np.log(f0), f0 > 40)


@pytest.fixture(scope="module")
def random_model() -> tuple[ContourNet, EmotionContour]:
    torch.manual_seed(1)
    net = ContourNet(ContourSettings())
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    return net, net.contour({"note": "random"})


def _weights(spec: str) -> np.ndarray:
    return np.asarray(parse_emotion(spec).weights)


def test_numpy_inference_is_the_torch_model_and_survives_a_round_trip(random_model, tmp_path):
    net, contour = random_model
    x = _example()
    with torch.no_grad():
        expected = net.shift(x).numpy()
    args = (np.exp(x.predicted_log_f0), x.predicted_energy, speech_steps(x.frames_per_token))
    got = contour.log_f0_shift(contour.vector(_weights("joy")), *args)
    assert np.abs(expected).max() > 0.1  # a real shift, not zeros on both sides
    np.testing.assert_allclose(got, expected, atol=1e-5)
    contour.save(tmp_path / "c.npz")
    loaded = EmotionContour.load(tmp_path / "c.npz")
    assert loaded.info == {"note": "random"} and loaded.dilations == contour.dilations
    np.testing.assert_array_equal(loaded.log_f0_shift(loaded.vector(_weights("joy")), *args), got)


def test_the_shift_is_linear_in_the_spec_and_touches_voiced_steps_only(random_model):
    _, contour = random_model
    x = _example(2)
    f0 = np.exp(x.predicted_log_f0).astype(np.float32)
    args = (f0, x.predicted_energy, speech_steps(x.frames_per_token))

    def shift(spec: str) -> np.ndarray:
        return contour.log_f0_shift(contour.vector(_weights(spec)), *args)

    np.testing.assert_allclose(shift("joy:0.5"), 0.5 * shift("joy"), atol=1e-9)
    np.testing.assert_allclose(shift("joy:0.5,anger:0.5"), 0.5 * shift("joy") + 0.5 * shift("anger"), atol=1e-9)
    np.testing.assert_allclose(shift("-joy"), -shift("joy"), atol=1e-9)
    assert not shift("neutral").any()

    frames = int(x.frames_per_token.sum())
    prediction = ProsodyPrediction(np.arange(1, x.frames_per_token.size - 1), np.zeros(256, np.float32),
                                   x.frames_per_token, f0, x.predicted_energy.astype(np.float32),
                                   np.zeros((1, 512, frames), np.float32))
    assert contour.shaped(prediction, contour.vector(_weights("neutral"))) is prediction
    shaped = contour.shaped(prediction, contour.vector(_weights("anger")))
    unvoiced = f0 < 20
    np.testing.assert_array_equal(shaped.f0_hz[unvoiced], f0[unvoiced])
    voiced = f0 > 40
    np.testing.assert_allclose(np.log(shaped.f0_hz[voiced]) - np.log(f0[voiced]), shift("anger")[voiced], atol=1e-4)


def test_a_contour_file_that_is_not_one_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not an emotion-contour file"):
        EmotionContour.load(bad)
    with pytest.raises(ModelError, match="no such emotion-contour file"):
        EmotionContour.load(tmp_path / "missing.npz")


def test_a_short_fit_brings_the_predicted_f0_closer_to_the_recordings(six_clips, tmp_path):
    from emosynth.voice.learning.emotion_fit import EmotionFitSettings, fit_half

    settings = EmotionFitSettings(prosody_steps=4, clips_per_step=2, checkpoint_every=4)
    prosody = fit_half(six_clips, tmp_path, "prosody", settings, progress=False)
    examples = contour_examples(six_clips, prosody, progress=False)
    assert sorted(x.emotion for x in examples) == ["anger", "anger", "sadness", "sadness"]  # neutral teaches nothing
    assert all(x.mask.sum() > 50 for x in examples)
    contour = fit_contour(examples, ContourSettings(steps=80, clips_per_step=4), held_out=examples, progress=False)
    assert sorted(contour.vectors) == sorted(CONTOUR_EMOTIONS)
    before, after = contour_losses(None, examples), contour_losses(contour, examples)
    for emotion in ("anger", "sadness"):
        assert after[emotion] < 0.9 * before[emotion], (emotion, before, after)
        reported = contour.info["held_out"][emotion]["relative_change"]
        assert reported == pytest.approx(after[emotion] / before[emotion] - 1, abs=1e-3)
    # an emotion it never heard keeps its starting vector's tiny size: no shift to speak of
    assert np.abs(contour.vectors["fear"]).max() < 0.05
    assert PRIMARY_EMOTIONS[0] == "neutral"
