"""Decoding a prediction in windows for a fast first sound (emosynth.voice.windowed), on the real
int8 model: the pieces join to the whole's length, stay close to the whole decoding, and the
carried source phase is what keeps a later window in step with the whole."""

from __future__ import annotations

import numpy as np
import pytest

from emosynth.synthesizer import Synthesizer
from emosynth.voice import SAMPLES_PER_FRAME, Backbone, ProsodyControlError, text_to_chunks
from emosynth.voice.windowed import CONTEXT_FRAMES, FIRST_WINDOW_FRAMES, decode_windows, window_cuts

VOICE = "kumo"
LONG = "The quiet harbour town wakes up slowly before the sun rises over the hills."


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone.load()


@pytest.fixture(scope="module")
def prediction(backbone):
    chunk = text_to_chunks(LONG)[0]
    return backbone.predict(chunk.token_ids, "jm_kumo")


@pytest.fixture(scope="module")
def whole(backbone, prediction) -> np.ndarray:
    return backbone.decode(prediction).audio


def _log_mel(x: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::240] * np.hanning(1024)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    edges = np.linspace(0, power.shape[-1], 65).astype(int)  # 64 equal bands are enough to compare
    bands = np.stack([power[:, a:b].sum(axis=-1) for a, b in zip(edges, edges[1:], strict=False)], axis=-1)
    return 10 * np.log10(bands + 1e-10)


def _speech_log_mel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |dB| over the frames where ``b`` is within 30 dB of its loudest, floored 50 dB down."""
    la, lb = _log_mel(a), _log_mel(b)
    top = lb.max()
    speech = lb.max(axis=-1) > top - 30
    return float(np.mean(np.abs(np.maximum(la, top - 50) - np.maximum(lb, top - 50))[speech]))


def test_no_cuts_is_exactly_the_whole_decoding(backbone, prediction, whole):
    pieces = list(decode_windows(backbone, prediction, []))
    assert len(pieces) == 1 and np.array_equal(pieces[0], whole)


def test_cuts_start_after_the_first_stretch_of_speech_and_grow(prediction):
    cuts = window_cuts(prediction)
    assert len(cuts) >= 2 and cuts == window_cuts(prediction)  # depends on the prediction alone
    pad = int(prediction.frames_per_token[0])
    assert abs(cuts[0] - (pad + FIRST_WINDOW_FRAMES)) <= 4
    sizes = np.diff([pad, *cuts])  # the first window counted from the end of the leading silence
    # each window is planned 1.5 times the one before; a cut moves by up to 4 frames to a quiet one
    assert all(b >= 1.5 * a - 8 for a, b in zip(sizes, sizes[1:], strict=False)), sizes
    assert all(CONTEXT_FRAMES <= c <= prediction.n_frames - CONTEXT_FRAMES for c in cuts)
    energy = prediction.energy.reshape(-1, 2).mean(axis=1)
    planned = pad + FIRST_WINDOW_FRAMES  # the first cut moved to the quietest frame within 4 of the plan
    assert energy[cuts[0]] == energy[planned - 4:planned + 4].min()


def test_windows_join_to_the_whole_length_and_sound_close_to_it(backbone, prediction, whole):
    cuts = window_cuts(prediction)
    pieces = list(decode_windows(backbone, prediction, cuts))
    assert len(pieces) == len(cuts) + 1
    joined = np.concatenate(pieces)
    assert joined.shape == whole.shape and joined.dtype == np.float32
    # The int8 and float graphs differ by 0.4-0.7 dB on this measure; windows see their own
    # instance-norm statistics, so they may differ more, but stay a rendition of the same speech.
    assert _speech_log_mel_distance(joined, whole) < 2.0
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))  # noqa: E731
    assert rms(joined) == pytest.approx(rms(whole), rel=0.15)
    # no click where windows meet: the sample-to-sample step there is like the audio's own
    steps = np.abs(np.diff(joined))
    seams = np.concatenate([[len(p) for p in pieces[:1]], np.cumsum([len(p) for p in pieces])[1:-1]])
    assert all(steps[s - 3:s + 3].max() <= np.quantile(steps, 0.999) for s in seams)


def test_the_carried_phase_keeps_a_later_window_in_step_with_the_whole(backbone, prediction, whole):
    cut = window_cuts(prediction)[0]
    lo = cut - CONTEXT_FRAMES
    start, stop = cut * SAMPLES_PER_FRAME + 60, (cut + 4) * SAMPLES_PER_FRAME  # past the crossfade, 0.1 s

    def snr(x: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(whole[start:stop] ** 2) / np.sum((x - whole[start:stop]) ** 2)))

    first, second = decode_windows(backbone, prediction, [cut])
    at = len(first)  # the second piece starts here on the whole's clock
    with_phase = snr(second[start - at:stop - at])
    # the same window with its source restarted at its own first step
    plain = backbone.decoder_audio(prediction.aligned[:, :, lo:], prediction.f0_hz[2 * lo:],
                                   prediction.energy[2 * lo:], prediction.style)
    restarted = snr(plain[start - lo * SAMPLES_PER_FRAME:stop - lo * SAMPLES_PER_FRAME])
    assert with_phase > 5.0 and with_phase > restarted + 5.0, (with_phase, restarted)


def test_the_leading_silence_can_be_left_undecoded(backbone, prediction, whole):
    skip = prediction.speech_bounds[0] // SAMPLES_PER_FRAME - 2  # what the synthesizer drops, about
    assert skip > 4
    pieces = list(decode_windows(backbone, prediction, window_cuts(prediction, from_frame=skip), from_frame=skip))
    joined = np.concatenate(pieces)
    assert joined.shape == whole.shape and not joined[:skip * SAMPLES_PER_FRAME].any()
    assert _speech_log_mel_distance(joined[skip * SAMPLES_PER_FRAME:], whole[skip * SAMPLES_PER_FRAME:]) < 2.0
    with pytest.raises(ProsodyControlError, match="window cuts"):  # a cut too close to where decoding starts
        list(decode_windows(backbone, prediction, [skip + 3], from_frame=skip))


@pytest.mark.parametrize("cuts", [[3], [50, 40], [10, 10], [100_000]])
def test_bad_cuts_are_refused(backbone, prediction, cuts):
    with pytest.raises(ProsodyControlError, match="window cuts"):
        list(decode_windows(backbone, prediction, cuts))


def test_stream_hands_on_the_sound_in_pieces_that_join_to_each_chunk():
    synth = Synthesizer(VOICE)
    text = LONG + " Then the boats go out."
    got: list = []
    chunks = list(synth.stream(text, on_audio=got.append))
    whole = list(synth.stream(text))
    assert len(got) > len(chunks)  # the long sentence comes in several pieces
    assert np.array_equal(np.concatenate([p.audio for p in got]), np.concatenate([c.audio for c in chunks]))
    assert len(got[0].audio) / 24_000 < 0.6  # the first piece holds about 0.4 s
    for streamed, plain in zip(chunks, whole, strict=True):  # timings are the prediction's: unchanged
        assert streamed.phonemes == plain.phonemes and len(streamed.audio) == len(plain.audio)
        assert np.array_equal(streamed.f0_hz, plain.f0_hz)
        mine = [p for p in got if p.phonemes == streamed.phonemes]  # each piece knows its chunk before its end
        assert [p.start_sample for p in mine] == list(np.cumsum([0] + [len(p.audio) for p in mine[:-1]]))
        assert mine[-1].completes_chunk and not any(p.completes_chunk for p in mine[:-1])
    # the short last sentence, with more than twice its length of sound before it, is decoded whole
    assert len([p for p in got if p.phonemes == chunks[-1].phonemes]) == 1
    assert np.array_equal(chunks[-1].audio, whole[-1].audio)
