"""The differentiable twin (emosynth.voice.learning) against onnxruntime running the float graph.

Bounds are measured, with room: on 12 cases (jf_alpha, jm_kumo, jf_nezumi x 4 sentences of
42-114 frames; 2026-12, torch 2.13, onnxruntime 1.32) the predictor's per-token durations before
rounding differ by <= 4.8e-6 frames, F0 by <= 2.7e-4 Hz, energy by <= 5.7e-6, and the aligned
features are identical. The decoder's audio is 0.013-0.022 nats (log-mel) and 24.6-34.5 dB SNR
away from onnxruntime's: inside onnxruntime's own noise, since its float decoder moves
0.011-0.027 nats (27.9-35.7 dB) when F0 is scaled by 1 + 1e-6 (the phase of many source STFT
bins is decided by rounding). The STFT emulation is bit-exact. About 2 minutes on 2 busy cores.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the differentiable Kokoro needs torch (extra: speaker)")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from emosynth.evaluation import log_mel_distance
from emosynth.voice import (
    Backbone,
    ProsodyControlError,
    VoiceError,
    graph,
    style_for,
    text_to_chunks,
)
from emosynth.voice.backbone import SAMPLE_RATE_HZ
from emosynth.voice.float_graph import float_model_file
from emosynth.voice.learning import (
    KokoroDecoder,
    KokoroProsody,
    alignment_matrix,
    encode_text,
)
from emosynth.voice.learning.ort_stft import OnnxruntimeStft
from emosynth.voice.learning.weights import GraphWeights

CASES = [("jf_alpha", "Hello there, this is a short test."), ("jm_kumo", "Where are you going?")]
DURATION_TOL = 1e-4  # frames
F0_TOL_HZ = 5e-3
ENERGY_TOL = 1e-4
LOG_MEL_TOL = 0.04  # nats
SNR_MIN_DB = 20.0
FD_REL_TOL = 0.03  # directional derivative against a central difference


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def twin():
    weights = GraphWeights.load(float_model_file())
    return KokoroProsody(weights).eval(), KokoroDecoder(weights).eval()


@pytest.fixture(scope="module")
def predictor():
    """The float predictor with the durations before rounding as an extra output."""
    model = onnx.load_from_string(graph.load_split_graphs(float_model_file()).predictor)
    model.graph.output.append(onnx.helper.make_tensor_value_info(graph.DURATION, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=CASES, ids=[v for v, _ in CASES])
def case(request, predictor):
    """(token ids, style, onnxruntime's frames, durations, F0, energy, aligned features)."""
    voice, text = request.param
    chunk = text_to_chunks(text)[0]
    style = style_for(voice, chunk.n_tokens).astype(np.float32)
    ids = np.array([[0, *chunk.token_ids, 0]], np.int64)
    outputs = predictor.run([graph.FRAMES, graph.DURATION, graph.F0, graph.ENERGY, graph.ALIGNED], {
        graph.TOKENS: ids, graph.STYLE: style[None], graph.SPEED: np.ones(1, np.float32),
        graph.DURATION_SCALE: np.ones((1, ids.shape[1]), np.float32)})
    frames, durations, f0, energy, aligned = outputs
    return (np.asarray(chunk.token_ids), style, frames.reshape(-1), durations, f0.reshape(1, -1),
            energy.reshape(1, -1), aligned)


# -- against onnxruntime ----------------------------------------------------------------------------
def test_prosody_and_text_features_match_the_graph(twin, case):
    prosody, _ = twin
    ids, style, frames, durations, f0, energy, aligned = case
    text = encode_text(ids)
    with torch.no_grad():
        out = prosody(text.d_en_tensor(), torch.from_numpy(style[None]), frames)
    assert np.max(np.abs(out.durations.numpy() - durations)) < DURATION_TOL
    assert np.max(np.abs(out.f0_hz.numpy() - f0)) < F0_TOL_HZ
    assert np.max(np.abs(out.energy.numpy() - energy)) < ENERGY_TOL
    np.testing.assert_array_equal(text.aligned(frames).numpy(), aligned)


def test_decoder_matches_the_graph_within_its_own_noise(twin, case):
    _, decoder = twin
    ids, style, frames, _, f0, energy, aligned = case
    prediction = Backbone.load(threads=2, precision="float").predict(ids, style)
    np.testing.assert_array_equal(prediction.frames_per_token, frames)
    reference = Backbone.load(threads=2, precision="float").decode(prediction).audio
    with torch.no_grad():
        audio = decoder(torch.from_numpy(aligned), torch.from_numpy(f0), torch.from_numpy(energy),
                        torch.from_numpy(style[None]))[0].numpy()
    assert audio.shape == reference.shape == (600 * frames.sum(),)
    assert log_mel_distance(audio, reference, sample_rate_hz=SAMPLE_RATE_HZ) < LOG_MEL_TOL
    snr_db = 10 * np.log10(np.sum(reference ** 2) / np.sum((audio - reference) ** 2))
    assert snr_db > SNR_MIN_DB


def test_per_layer_style_offsets_match_the_graph(twin, case):
    """The decoder's per-layer offsets (graph.STYLE_OFFSETS) mean the same in the twin and in
    onnxruntime: random rows move the audio far, and the two stay within the decoder's noise."""
    _, decoder = twin
    assert [layer.path for layer in decoder.adain_layers] == list(graph.DECODER_ADAIN_PATHS)
    ids, style, frames, _, f0, energy, aligned = case
    offsets = (np.random.default_rng(0).standard_normal((len(graph.DECODER_ADAIN_PATHS), 128)) * 0.1).astype(np.float32)
    backbone = Backbone.load(threads=2, precision="float")
    plain = backbone.decoder_audio(aligned, f0[0], energy[0], style)
    reference = backbone.decoder_audio(aligned, f0[0], energy[0], style, offsets)
    assert log_mel_distance(plain, reference, sample_rate_hz=SAMPLE_RATE_HZ) > 5 * LOG_MEL_TOL
    with torch.no_grad():
        audio = decoder(torch.from_numpy(aligned), torch.from_numpy(f0), torch.from_numpy(energy),
                        torch.from_numpy(style[None]), torch.from_numpy(offsets[None]))[0].numpy()
    assert log_mel_distance(audio, reference, sample_rate_hz=SAMPLE_RATE_HZ) < LOG_MEL_TOL
    snr_db = 10 * np.log10(np.sum(reference ** 2) / np.sum((audio - reference) ** 2))
    assert snr_db > SNR_MIN_DB


def test_the_source_stft_is_onnxruntimes_bit_for_bit():
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(20) / 20)).astype(np.float32)
    n = 400
    helper, tp = onnx.helper, onnx.TensorProto
    nodes = [helper.make_node("Pad", ["x", "pads"], ["padded"], mode="reflect"),
             helper.make_node("Unsqueeze", ["padded", "axis"], ["signal"]),
             helper.make_node("STFT", ["signal", "step", "window", "length"], ["y"], onesided=1)]
    inits = [helper.make_tensor("pads", tp.INT64, [4], [0, 10, 0, 10]), helper.make_tensor("axis", tp.INT64, [1], [2]),
             helper.make_tensor("step", tp.INT64, [], [5]), helper.make_tensor("length", tp.INT64, [], [20]),
             onnx.numpy_helper.from_array(window, "window")]
    stft_graph = helper.make_graph(nodes, "stft", [helper.make_tensor_value_info("x", tp.FLOAT, [1, n])],
                                   [helper.make_tensor_value_info("y", tp.FLOAT, None)], initializer=inits)
    model = helper.make_model(stft_graph, opset_imports=[helper.make_opsetid("", 18)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    stft = OnnxruntimeStft(torch.from_numpy(window), 5)
    rng = np.random.default_rng(0)
    for x in (np.full((1, n), -0.0294, np.float32), rng.standard_normal((1, n)).astype(np.float32)):
        expected = session.run(None, {"x": x})[0][0]  # (steps, 11, 2)
        re, im = stft(torch.from_numpy(x))
        np.testing.assert_array_equal(re[0].numpy().T, expected[..., 0])
        np.testing.assert_array_equal(im[0].numpy().T, expected[..., 1])


# -- gradients --------------------------------------------------------------------------------------
def _log_mel(audio: torch.Tensor) -> torch.Tensor:
    """A smooth stand-in for a fitting loss's features: log of 80 random positive band sums."""
    spec = torch.stft(audio, 1024, 256, window=torch.hann_window(1024), return_complex=True).abs() ** 2
    bank = torch.from_numpy(np.random.default_rng(0).random((80, 513)).astype(np.float32)) / 513
    return torch.log(bank @ spec + 1e-5)


def _central_difference(loss, x: torch.Tensor, direction: torch.Tensor, eps: float) -> float:
    with torch.no_grad():
        return (loss(x + eps * direction) - loss(x - eps * direction)).item() / (2 * eps)


def test_decoder_gradients_are_finite_and_match_a_finite_difference(twin):
    _, decoder = twin
    chunk = text_to_chunks("Hi.")[0]
    style = torch.from_numpy(style_for("jm_kumo", chunk.n_tokens).astype(np.float32)[None])
    backbone = Backbone.load(threads=2, precision="float")
    p = backbone.predict(chunk.token_ids, style[0].numpy())
    aligned = torch.from_numpy(p.aligned).requires_grad_(True)
    f0 = torch.from_numpy(p.f0_hz[None]).requires_grad_(True)
    energy = torch.from_numpy(p.energy[None]).requires_grad_(True)
    # onnxruntime's audio, 0.5 nats off everywhere: far from the minimum, a smooth loss
    target = _log_mel(torch.from_numpy(backbone.decode(p).audio)[None]) + 0.5

    def loss(s):
        return torch.mean((_log_mel(decoder(aligned, f0, energy, s)) - target) ** 2)

    s = style.clone().requires_grad_(True)
    loss(s).backward()
    for name, grad in (("style", s.grad[0, :128]), ("F0", f0.grad), ("energy", energy.grad), ("aligned", aligned.grad)):
        assert torch.isfinite(grad).all(), name
        assert grad.abs().max() > 0, name
    assert torch.all(s.grad[0, 128:] == 0)  # the decoder reads dims 0-127 only
    direction = torch.zeros_like(style)
    direction[0, :128] = torch.from_numpy(np.random.default_rng(1).standard_normal(128).astype(np.float32))
    direction /= direction.norm()
    analytic = float((s.grad * direction).sum())
    assert abs(_central_difference(loss, style, direction, 3e-3) - analytic) < FD_REL_TOL * abs(analytic)


def test_prosody_gradients_are_finite_and_match_a_finite_difference(twin):
    prosody, _ = twin
    chunk = text_to_chunks("Where are you going?")[0]
    style = torch.from_numpy(style_for("jf_alpha", chunk.n_tokens).astype(np.float32)[None])
    d_en = encode_text(chunk.token_ids).d_en_tensor()
    frames = np.full(chunk.n_tokens + 2, 3)

    def loss(s):
        out = prosody(d_en, s, frames)
        return out.durations.sum() + out.f0_hz.mean() / 10 + out.energy.mean()

    s = style.clone().requires_grad_(True)
    loss(s).backward()
    assert torch.isfinite(s.grad).all()
    assert torch.all(s.grad[0, :128] == 0) and torch.all(s.grad[0, 128:] != 0)  # dims 128-255 only
    direction = torch.zeros_like(style)
    direction[0, 128:] = torch.from_numpy(np.random.default_rng(2).standard_normal(128).astype(np.float32))
    direction /= direction.norm()
    analytic = float((s.grad * direction).sum())
    assert abs(_central_difference(loss, style, direction, 1e-2) - analytic) < FD_REL_TOL * abs(analytic)


# -- bad input and boundaries -------------------------------------------------------------------------
def test_bad_shapes_raise(twin):
    prosody, decoder = twin
    aligned, curve = torch.zeros(1, 512, 4), torch.zeros(1, 8)
    with pytest.raises(VoiceError, match="style"):
        decoder(aligned, curve, curve, torch.zeros(1, 128))
    with pytest.raises(ProsodyControlError, match="2 steps per frame"):
        decoder(aligned, torch.zeros(1, 7), curve, torch.zeros(1, 256))
    with pytest.raises(VoiceError, match="layer offsets"):
        decoder(aligned, curve, curve, torch.zeros(1, 256), torch.zeros(1, 57, 128))
    with pytest.raises(ProsodyControlError, match="frames_per_token"):
        prosody(torch.zeros(1, 3, 512), torch.zeros(1, 256), [1, 2])
    with pytest.raises(ProsodyControlError, match="non-negative"):
        alignment_matrix([2, -1, 3])
    with pytest.raises(VoiceError, match="510"):
        encode_text([])
    with pytest.raises(VoiceError, match="510"):
        encode_text([[1, 2]])


def test_alignment_matrix_gives_each_frame_to_one_token():
    matrix = alignment_matrix([2, 0, 3])
    assert matrix.shape == (3, 5)
    np.testing.assert_array_equal(matrix.sum(dim=0).numpy(), np.ones(5))
    np.testing.assert_array_equal(matrix.sum(dim=1).numpy(), [2, 0, 3])


def test_inference_code_never_imports_the_learning_package():
    voice = Path(__file__).resolve().parents[1] / "emosynth" / "voice"
    imports = re.compile(r"^\s*(from|import)\s+(torch|\.learning|emosynth\.voice\.learning)\b", re.MULTILINE)
    for path in voice.glob("*.py"):
        assert not imports.search(path.read_text()), path.name
