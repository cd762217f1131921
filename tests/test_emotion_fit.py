"""The emotion fit (emosynth.voice.learning.emotion_fit): its losses, and a short real fit.

The short fit runs on six RAVDESS clips of one actor (two neutral, two angry, two sad) through
the real differentiable Kokoro: a dozen predictor steps must make the anger embedding lower the
predictor's loss on the angry clips (it learned something about anger, from anger), an
interrupted fit resumed from its checkpoint must end where an uninterrupted one does, and the
clips of an emotion never drawn keep a zero embedding. About 2 minutes on 2 busy cores.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the emotion fit needs torch (extra: speaker)")
pytest.importorskip("pyworld", reason="F0 targets need pyworld (extra: train or profiles)")

from emosynth.voice.learning.emotion_fit import (
    EMOTIONS,
    EmotionFitSettings,
    clip_level_offsets,
    fit_half,
    merged_embeddings,
    prosody_clip_loss,
    read_half,
)
from emosynth.voice.learning.fit_report import held_out_report
from emosynth.voice.learning.kokoro_torch import KokoroProsody
from emosynth.voice.learning.losses import (
    DYNAMIC_RANGE_NATS,
    MultiResolutionLogMel,
    prosody_loss,
)
from emosynth.voice.learning.split import (
    FIT_SPEAKERS,
    HELD_OUT_SENTENCES,
    JUDGE_SPEAKERS,
)

RATE = 24_000


def _tone(seconds: float = 1.0, hz: float = 220.0) -> torch.Tensor:
    t = torch.arange(int(seconds * RATE)) / RATE
    return (0.3 * torch.sin(2 * math.pi * hz * t) * torch.hann_window(t.numel()))[None, :]


# -- losses ----------------------------------------------------------------------------------------------
def test_spectral_loss_is_zero_for_the_same_audio_and_log_2_for_double_the_gain():
    loss = MultiResolutionLogMel()
    noise = 0.1 * torch.randn(1, RATE, generator=torch.Generator().manual_seed(1))  # every band well above the floor
    assert float(loss(noise, noise)) == 0.0
    # (a few of the 512-point STFT's lowest mel bands hold no bin: floored on both sides)
    assert float(loss(2 * noise, noise)) == pytest.approx(math.log(2), abs=0.01)


def test_spectral_loss_ignores_noise_far_below_the_targets_peak():
    """A recording's room noise is not something Kokoro is asked to make."""
    loss = MultiResolutionLogMel()
    tone = _tone()
    noise = torch.randn(tone.shape, generator=torch.Generator().manual_seed(0))
    quiet = tone + noise * 0.3 * math.exp(-DYNAMIC_RANGE_NATS - 3)
    loud = tone + noise * 0.3 * math.exp(-2)
    assert float(loss(tone, quiet)) < 0.01
    assert float(loss(tone, loud)) > 0.2


def test_prosody_loss_terms():
    frames = np.array([3, 2, 4, 2, 3])  # pads at either end
    steps = 2 * frames.sum()
    target_f0 = np.full(steps, 200.0, dtype=np.float32)
    target_f0[10:12] = 0.0  # unvoiced: no F0 error there whatever is predicted
    target_n = np.zeros(steps, dtype=np.float32)
    durations = torch.tensor(frames, dtype=torch.float32)[None]
    f0 = torch.full((1, steps), 200.0)
    f0[0, 10:12] = 5.0
    exact = prosody_loss(durations, f0, torch.zeros(1, steps), frames_per_token=frames,
                         target_f0_hz=target_f0, target_energy=target_n)
    assert exact.to_dict() == {"duration": 0.0, "f0": 0.0, "energy": 0.0}
    octave = prosody_loss(durations * 2, f0 * 2, torch.full((1, steps), 5.0), frames_per_token=frames,
                          target_f0_hz=target_f0, target_energy=target_n)
    assert octave.f0 == pytest.approx(math.log(2), abs=1e-5)
    assert octave.energy == pytest.approx(2.0)  # capped: a misplaced step cannot dominate
    assert octave.duration > 0.3


def test_the_split_is_disjoint_and_covers_both_corpora():
    assert not FIT_SPEAKERS & JUDGE_SPEAKERS
    for side in (FIT_SPEAKERS, JUDGE_SPEAKERS):
        assert sum(s.startswith("ravdess-") for s in side) == 10
        assert sum(s.startswith("nemo-") for s in side) == 3
    assert len(HELD_OUT_SENTENCES) == 10


# -- a short real fit ------------------------------------------------------------------------------------
SETTINGS = EmotionFitSettings(prosody_steps=12, decoder_steps=2, clips_per_step=2, crop_frames=16,
                              context_frames=4, learning_rate=0.03, checkpoint_every=4)


def test_a_short_fit_learns_anger_from_anger_and_resumes_exactly(six_clips, tmp_path):
    whole = fit_half(six_clips, tmp_path / "whole", "prosody", SETTINGS, progress=False)
    assert whole.done and len(whole.history) == 12 and all(np.isfinite(whole.history))

    part = fit_half(six_clips, tmp_path / "parts", "prosody", SETTINGS, progress=False, stop_after_steps=5)
    assert not part.done and part.step == 5
    # reading a checkpoint takes no step (and a half never started reads as None)
    read = read_half(six_clips, tmp_path / "parts", "prosody")
    assert read.step == 5 and read.history == part.history
    np.testing.assert_array_equal(read.embeddings(), part.embeddings())
    assert read_half(six_clips, tmp_path / "parts", "decoder") is None
    resumed = fit_half(six_clips, tmp_path / "parts", "prosody", SETTINGS, progress=False)
    np.testing.assert_array_equal(resumed.embeddings(), whole.embeddings())
    assert resumed.history == whole.history

    embeddings = whole.embeddings()
    for emotion in EMOTIONS:  # only what was drawn moves, and only in the predictor's half
        moved = np.abs(embeddings[EMOTIONS.index(emotion)]).max() > 0
        assert moved == (emotion in ("anger", "sadness")), emotion
    assert not embeddings[:, :128].any()

    prosody = KokoroProsody.from_float_graph()
    levels = clip_level_offsets(six_clips)
    angry = [c for c in six_clips if c.emotion == "anger"]
    with torch.no_grad():
        with_anger = [float(prosody_clip_loss(prosody, whole.styles, c, levels[c.speaker])) for c in angry]
        without = [float(prosody_clip_loss(prosody, whole.styles, c, levels[c.speaker], with_emotion=False))
                   for c in angry]
    assert np.mean(with_anger) < np.mean(without) - 0.02, (with_anger, without)


def test_the_decoder_half_fits_only_the_decoder_half_and_merges(six_clips, tmp_path):
    decoder = fit_half(six_clips, tmp_path, "decoder", SETTINGS, progress=False)
    assert decoder.done and all(np.isfinite(decoder.history))
    moved = decoder.embeddings()
    assert np.abs(moved[:, :128]).max() > 0 and not moved[:, 128:].any()
    prosody = fit_half(six_clips, tmp_path, "prosody", SETTINGS, progress=False, stop_after_steps=2)
    merged = merged_embeddings([prosody, decoder], {"note": "test"})
    for i, emotion in enumerate(EMOTIONS):
        np.testing.assert_allclose(merged.offsets[emotion], prosody.embeddings()[i] + moved[i], rtol=1e-6)
    assert merged.info["halves"]["decoder"]["steps"] == 2 and merged.info["note"] == "test"

    # the report on clips the fit did not see reads both halves, per emotion, without and with
    report = held_out_report([prosody, decoder], six_clips, SETTINGS, decoder_clips_per_emotion=1)
    assert set(report["by_emotion"]) == {"anger", "sadness"} and report["n_sentences"] == 1
    for row in report["by_emotion"].values():
        assert row["clips"] == 2 and row["prosody"]["n"] == 2 and row["decoder"]["n"] == 1
        for half in ("prosody", "decoder"):
            assert row[half]["neutral_style"] > 0 and np.isfinite(row[half]["relative_change"])


def test_the_layer_stage_moves_only_the_drawn_emotions_per_layer_and_resumes_exactly(six_clips, tmp_path):
    """The decoder's per-layer offsets (layer_fit): fitted on top of the finished decoder half, they
    move only the emotions drawn, leave that half as it was, resume to the same values, and bring
    the decoder closer to the angry clips than the shared offset alone."""
    from emosynth.voice.learning.emotion_fit import Crop, decoder_batch_loss
    from emosynth.voice.learning.kokoro_torch import KokoroDecoder
    from emosynth.voice.learning.layer_fit import DECODER_LAYERS, fit_layers, read_layers

    settings = EmotionFitSettings(**{**SETTINGS.__dict__, "layer_steps": 4, "learning_rate": 0.01})
    with pytest.raises(ValueError, match="decoder half is not finished"):
        fit_layers(six_clips, tmp_path / "whole", settings, progress=False)
    for folder in ("whole", "parts"):
        fit_half(six_clips, tmp_path / folder, "decoder", settings, progress=False)
    before = read_half(six_clips, tmp_path / "whole", "decoder").embeddings()
    whole = fit_layers(six_clips, tmp_path / "whole", settings, progress=False)
    assert whole.done and len(whole.history) == 4 and all(np.isfinite(whole.history))
    np.testing.assert_array_equal(whole.decoder.embeddings(), before)
    part = fit_layers(six_clips, tmp_path / "parts", settings, progress=False, stop_after_steps=2)
    assert read_layers(six_clips, tmp_path / "parts", settings).step == 2
    resumed = fit_layers(six_clips, tmp_path / "parts", settings, progress=False)
    assert part.step == 2 and resumed.history == whole.history
    np.testing.assert_array_equal(resumed.offsets(), whole.offsets())

    offsets = whole.offsets()
    assert offsets.shape == (len(EMOTIONS), DECODER_LAYERS, 128)
    for emotion in EMOTIONS:
        assert (np.abs(offsets[EMOTIONS.index(emotion)]).max() > 0) == (emotion in ("anger", "sadness")), emotion
    # layers move apart: the fit is not one shared offset in disguise
    assert np.abs(offsets[EMOTIONS.index("anger")] - offsets[EMOTIONS.index("anger")].mean(axis=0)).max() > 1e-4

    angry = [c for c in six_clips if c.emotion == "anger"]
    crops = [Crop(c, 8, 8 + 16, 4, 4) for c in angry]
    decoder, spectral = KokoroDecoder.from_float_graph(), MultiResolutionLogMel()
    with torch.no_grad():
        shared = decoder_batch_loss(decoder, whole.decoder.styles, crops, whole.decoder.levels, spectral)
        layered = decoder_batch_loss(decoder, whole.decoder.styles, crops, whole.decoder.levels, spectral,
                                     layer_offsets=whole.clip_offsets)
    assert float(layered) < float(shared), (float(layered), float(shared))
