"""The float32 twin of Kokoro's int8 graph, against the int8 graph on the real model (~35 s on 2 threads).

The two graphs differ by the int8 graph's activation-quantization noise, so the bounds below are
measured, not exact. Measured on 24 cases (jf_alpha, jm_kumo, jf_nezumi x 8 sentences; 2026-12,
onnxruntime 1.32): per-token durations before rounding differ by 0.04-1.5 frames at most, so
1-6 tokens of ~45 round to one frame more or less; with the int8 durations imposed on the float
predictor the frames are identical in every case and the contours agree: F0 p95 |delta| 0.07-0.69
semitones (median <= 0.09), voicing differs on <= 1.6 % of steps, energy p95 |delta| <= 0.15
(the curve spans about -9..9). Log-mel distance (emosynth.evaluation.metrics, nats): int8 vs float
decoder on the same prediction 0.10-0.18, whole int8 vs whole float pipeline 0.13-0.22; the float
decoder against itself with F0 x (1 + 1e-6) moves 0.02-0.03, the int8 one 0.09-0.12.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from emosynth.evaluation import log_mel_distance
from emosynth.io import file_sha256
from emosynth.voice import Backbone, VoiceError, graph, style_for, text_to_chunks
from emosynth.voice.assets import model_file
from emosynth.voice.backbone import SAMPLE_RATE_HZ, ProsodyPrediction
from emosynth.voice.float_graph import FLOAT_MODEL_NAME, QUANTIZED_OPS, float_model_file

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

CASES = [("jf_alpha", "Hello there, this is a short test of the voice."), ("jm_kumo", "Hello there.")]
# Bounds: measured worst case over 24 cases (module doc) with some room.
DURATION_FRAMES_TOL = 1.0  # |delta| of one token's duration before rounding (test cases: <= 0.14)
F0_P95_SEMITONES = 0.75
F0_MEDIAN_SEMITONES = 0.15
VOICING_MISMATCH = 0.03
ENERGY_P95 = 0.25
LOG_MEL_SAME_PREDICTION = 0.25  # nats; decoders fed the same prediction
LOG_MEL_WHOLE = 0.30  # nats; each pipeline end to end (durations imposed, see above)


@pytest.fixture(scope="module")
def float_path():
    return float_model_file()


def _predictor_with_durations(path):
    """The cut predictor with the per-token durations before rounding as an extra output."""
    model = onnx.load_from_string(graph.load_split_graphs(path).predictor)
    model.graph.output.append(onnx.helper.make_tensor_value_info(graph.DURATION, onnx.TensorProto.FLOAT, [1, "n"]))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def predictors(float_path):
    return {"int8": _predictor_with_durations(model_file()), "float": _predictor_with_durations(float_path)}


def _predict(session, chunk, style, scale):
    names = [graph.FRAMES, graph.F0, graph.ENERGY, graph.ALIGNED, graph.DURATION]
    frames, f0, energy, aligned, durations = session.run(names, {
        graph.TOKENS: np.array([[0, *chunk.token_ids, 0]], dtype=np.int64), graph.STYLE: style[None, :],
        graph.SPEED: np.ones(1, np.float32), graph.DURATION_SCALE: scale[None, :].astype(np.float32)})
    p = ProsodyPrediction(np.asarray(chunk.token_ids), style, frames.reshape(-1), f0.reshape(-1),
                          energy.reshape(-1), aligned)
    return p, durations.reshape(-1)


@pytest.fixture(scope="module", params=CASES, ids=[v for v, _ in CASES])
def pair(request, predictors):
    """(int8 prediction, its durations, float prediction, its own durations, float with int8 durations)."""
    voice, text = request.param
    chunk = text_to_chunks(text)[0]
    style, ones = style_for(voice, chunk.n_tokens), np.ones(chunk.n_tokens + 2)
    p8, d8 = _predict(predictors["int8"], chunk, style, ones)
    pf_own, df = _predict(predictors["float"], chunk, style, ones)
    pf, _ = _predict(predictors["float"], chunk, style, d8 / df)  # impose the int8 durations
    return p8, d8, pf_own, df, pf


# -- the graph and its cache ------------------------------------------------------------------------
def test_the_twin_has_no_quantized_nodes_and_float_weights(float_path):
    model = onnx.load(str(float_path))
    ops = [n.op_type for n in model.graph.node]
    assert not set(ops) & QUANTIZED_OPS
    assert (ops.count("MatMul"), ops.count("Conv"), ops.count("LSTM")) == (26 + 148, 1 + 87, 6)
    weights = [t for t in model.graph.initializer if t.data_type != onnx.TensorProto.FLOAT]
    assert sum(np.prod(t.dims) for t in weights) < 10_000  # only shapes, indices and constants left
    assert {o.name for o in model.graph.output} == {graph.AUDIO}


def test_build_is_deterministic_and_a_corrupt_file_is_rebuilt(float_path, tmp_path, monkeypatch):
    shipped = json.loads((float_path.parent / (FLOAT_MODEL_NAME + ".json")).read_text())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = float_model_file()
    assert path.parent == tmp_path / "emosynth" / "kokoro"
    assert file_sha256(path) == shipped["sha256"]  # same bytes as the default cache's build
    before = path.stat().st_mtime_ns
    assert float_model_file() == path and path.stat().st_mtime_ns == before  # valid: kept
    with open(path, "r+b") as fh:  # flip bytes in the middle, keep the size
        fh.seek(path.stat().st_size // 2)
        fh.write(b"\x00\xff" * 8)
    assert file_sha256(float_model_file()) == shipped["sha256"]


def test_backbone_loads_either_precision_and_shares_each(float_path):
    loaded = Backbone.load(threads=2, precision="float")
    assert loaded.precision == "float" and Backbone.load(threads=2, precision="float") is loaded
    assert Backbone.load(threads=2) is Backbone.load(threads=2, precision="int8") is not loaded
    with pytest.raises(VoiceError, match="precision"):
        Backbone.load(precision="fp16")  # type: ignore[arg-type]


def test_the_backbone_runs_the_twin(pair, float_path):
    _, _, pf_own, _, _ = pair
    chunk_ids = pf_own.token_ids
    p = Backbone.load(threads=2, precision="float").predict(chunk_ids, pf_own.style)
    np.testing.assert_array_equal(p.frames_per_token, pf_own.frames_per_token)
    np.testing.assert_array_equal(p.f0_hz, pf_own.f0_hz)


# -- the predictor ----------------------------------------------------------------------------------
def test_durations_differ_by_quantization_noise_only(pair):
    p8, d8, pf_own, df, _ = pair
    assert np.max(np.abs(df - d8)) < DURATION_FRAMES_TOL
    assert np.max(np.abs(pf_own.frames_per_token - p8.frames_per_token)) <= 1  # a rounding flip at most


def test_with_the_same_durations_frames_are_identical_and_contours_close(pair):
    p8, _, _, _, pf = pair
    np.testing.assert_array_equal(pf.frames_per_token, p8.frames_per_token)
    voiced8, voiced_f = p8.f0_hz > 50, pf.f0_hz > 50
    assert np.mean(voiced8 != voiced_f) < VOICING_MISMATCH
    both = voiced8 & voiced_f
    semitones = np.abs(12 * np.log2(pf.f0_hz[both] / p8.f0_hz[both]))
    assert np.percentile(semitones, 95) < F0_P95_SEMITONES
    assert np.median(semitones) < F0_MEDIAN_SEMITONES
    assert np.percentile(np.abs(pf.energy - p8.energy), 95) < ENERGY_P95


# -- the decoder ------------------------------------------------------------------------------------
def test_decoders_agree_on_the_same_prediction_and_end_to_end(pair):
    p8, _, _, _, pf = pair
    int8, twin = Backbone.load(threads=2), Backbone.load(threads=2, precision="float")
    audio8 = int8.decode(p8).audio
    same_input = log_mel_distance(audio8, twin.decode(p8).audio, sample_rate_hz=SAMPLE_RATE_HZ)
    whole = log_mel_distance(audio8, twin.decode(pf).audio, sample_rate_hz=SAMPLE_RATE_HZ)
    assert 0 < same_input < LOG_MEL_SAME_PREDICTION
    assert whole < LOG_MEL_WHOLE

