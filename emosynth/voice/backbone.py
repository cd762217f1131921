"""Kokoro-82M (int8 ONNX or its float32 twin, CPU) with per-token duration, F0 and energy controls.

>>> bb = Backbone.load()                                             # doctest: +SKIP
>>> chunk = text_to_chunks("Hello there.")[0]                        # doctest: +SKIP
>>> out = bb.synthesize(chunk.token_ids, "jf_alpha", f0_scale=1.25)  # doctest: +SKIP
>>> out.audio.shape, out.sample_rate_hz, out.token_spans[0]          # doctest: +SKIP

Two levels: :meth:`Backbone.synthesize` takes scalar or curve controls and runs everything;
:meth:`Backbone.predict` and :meth:`Backbone.decode` expose the step between, where the caller
may rewrite whole F0 and energy contours (:class:`ProsodyPrediction.with_contours`).

How the controls reach the model (see :mod:`emosynth.voice.graph` for the graph edit):

* durations: a new predictor input multiplies the per-token durations before they are divided
  by ``speed`` and rounded to frames, so frames, F0, energy and audio all follow;
* F0 and energy: the predictor's contours are edited in numpy (:mod:`~emosynth.voice.contours`)
  and fed to the decoder.

Loading (measured on 2 cores): the source model's sha256 is checked (0.08 s), the graph is read
and cut in memory (0.35 s) and two onnxruntime sessions are made (0.4 s). Reading cut models
cached on disk would take 0.04 s instead of 0.35 s: not worth 92 MB more disk, so they are not
cached. One :class:`Backbone` is shared per thread count and precision (:meth:`Backbone.load`
returns the same object again).

Precision: ``"int8"`` runs the shipped model as it is; ``"float"`` runs its float32 twin
(:mod:`~emosynth.voice.float_graph`, built once into the cache), free of the int8 graph's
activation-quantization noise. Both are cut the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..cpus import usable_cpus
from ..errors import MissingExtraError, ModelError
from . import graph
from .assets import (
    MAX_TOKENS,
    STYLE_DIM,
    expected_model_sha256,
    file_sha256,
    model_file,
    style_for,
    vocabulary,
)
from .contours import F0_STEP_S, Control, shape_energy, shape_f0
from .errors import ProsodyControlError, VoiceError
from .float_graph import float_model_file

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

__all__ = [
    "Backbone",
    "BackboneOutput",
    "ProsodyPrediction",
    "TokenSpan",
    "SAMPLE_RATE_HZ",
    "SAMPLES_PER_FRAME",
    "FRAME_S",
    "ACOUSTIC_LEAD_SAMPLES",
    "PRECISIONS",
    "Precision",
]

#: Kokoro's output rate.
SAMPLE_RATE_HZ = 24_000
#: Audio samples per duration frame (the decoder's hop: 25 ms).
SAMPLES_PER_FRAME = 600
FRAME_S = SAMPLES_PER_FRAME / SAMPLE_RATE_HZ
#: The decoder sounds each token this long before that token's frames in the duration alignment
#: (it learnt from alignments that lagged the audio). Measured by cross-correlating the audio's
#: energy envelope with a sonority curve built from the spans over 20 sentences: the peak sat at
#: -60 ms for kumo, alpha and gongitsune alike (5 ms grid); token spans are moved by it.
ACOUSTIC_LEAD_SAMPLES = 1440
_PAD = 0  # token id Kokoro puts at both ends of every input
_NO_STYLE_OFFSETS = np.zeros((len(graph.DECODER_ADAIN_PATHS), 128), np.float32)  # read-only default
_NO_STYLE_OFFSETS.flags.writeable = False
#: Which graph runs: the shipped int8 export, or its float32 twin.
Precision = Literal["int8", "float"]
PRECISIONS: tuple[Precision, ...] = ("int8", "float")

TokenIds = Sequence[int] | np.ndarray
Style = str | np.ndarray


@dataclass(frozen=True)
class TokenSpan:
    """Where one phoneme token sounds in the audio: its frames (x 600 samples) in the duration
    alignment, moved earlier by ACOUSTIC_LEAD_SAMPLES to where the decoder actually voices it."""

    index: int  # position in the token ids given (pad tokens not counted)
    token_id: int
    symbol: str  # the phoneme symbol, e.g. "ˈA" is two tokens: "ˈ" and "A"
    start_sample: int
    end_sample: int  # exclusive

    @property
    def start_s(self) -> float:
        return self.start_sample / SAMPLE_RATE_HZ

    @property
    def end_s(self) -> float:
        return self.end_sample / SAMPLE_RATE_HZ


@dataclass(frozen=True)
class ProsodyPrediction:
    """What the predictor decided for one input, ready for the decoder.

    ``frames_per_token`` covers the n given tokens plus the pad token at each end; the contours
    have 2 * frames steps of :data:`~emosynth.voice.contours.F0_STEP_S`.
    """

    token_ids: np.ndarray  # (n,) int64, without pad tokens
    style: np.ndarray  # (256,) float32
    frames_per_token: np.ndarray  # (n + 2,) int64, pads included; 1 frame = 600 samples
    f0_hz: np.ndarray  # (2 * frames,) float32
    energy: np.ndarray  # (2 * frames,) float32, log spectral norm
    aligned: np.ndarray  # (1, 512, frames) float32, text features per frame (decoder input)
    #: (58, 128) float32 offsets of the decoder's style per AdaIN layer (graph.STYLE_OFFSETS); None: zeros
    style_offsets: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.frames_per_token.sum())

    @property
    def speech_bounds(self) -> tuple[int, int]:
        """The samples of the audio where the phonemes sound, known before decoding: see
        :attr:`BackboneOutput.speech_start_sample` and :attr:`BackboneOutput.speech_end_sample`."""
        return _speech_bounds(self.frames_per_token)

    def with_contours(
        self, *, f0_hz: np.ndarray | None = None, energy: np.ndarray | None = None
    ) -> ProsodyPrediction:
        """A copy with new F0 (Hz) and/or energy contours of the same shape (2 * frames,)."""
        changes = {}
        for name, curve in (("f0_hz", f0_hz), ("energy", energy)):
            if curve is not None:
                changes[name] = _checked_contour(name, curve, 2 * self.n_frames)
        return replace(self, **changes)


@dataclass(frozen=True)
class BackboneOutput:
    """Audio for one input with the timing and contours that made it."""

    audio: np.ndarray  # (frames * 600,) float32 at sample_rate_hz; peaks may slightly exceed 1
    sample_rate_hz: int
    frames_per_token: np.ndarray  # (n + 2,) int64, pads included; sum * 600 == len(audio)
    token_spans: tuple[TokenSpan, ...]  # (n,) one per given token, pads excluded
    f0_hz: np.ndarray  # (2 * frames,) float32, the F0 the decoder used, every F0_STEP_S
    energy: np.ndarray  # (2 * frames,) float32, the energy contour the decoder used
    f0_step_s: float = F0_STEP_S

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate_hz

    @property
    def speech_start_sample(self) -> int:
        """Where the first phoneme starts sounding (the leading pad token is model-made silence)."""
        return _speech_bounds(self.frames_per_token)[0]

    @property
    def speech_end_sample(self) -> int:
        """Where the last phoneme stops sounding (the trailing pad token is model-made silence)."""
        return _speech_bounds(self.frames_per_token)[1]


class Backbone:
    """Kokoro-82M split into predictor and decoder onnxruntime sessions (CPU)."""

    _shared: ClassVar[dict[tuple[int, str], Backbone]] = {}  # per (threads, precision), made on first load()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, predictor: InferenceSession, decoder: InferenceSession,
                 precision: Precision = "int8") -> None:
        self._predictor = predictor
        self._decoder = decoder
        self._symbols = {i: s for s, i in vocabulary().items()}
        self.precision = precision

    @classmethod
    def load(cls, *, threads: int | None = None, precision: Precision = "int8") -> Backbone:
        """The shared backbone for ``threads`` intra-op threads (default min(2, CPUs)) running
        the ``precision`` graph (``"int8"`` or ``"float"``), loading it on first use."""
        if precision not in PRECISIONS:
            raise VoiceError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        n = threads or min(2, usable_cpus())
        with cls._lock:
            if (n, precision) not in cls._shared:
                cls._shared[n, precision] = cls._build(n, precision)
            return cls._shared[n, precision]

    @classmethod
    def _build(cls, threads: int, precision: Precision) -> Backbone:
        ort = _onnxruntime()
        if precision == "float":
            path = float_model_file()  # checks its own hash and the source's
        else:
            path = model_file()
            if file_sha256(path) != expected_model_sha256():
                raise ModelError(f"{path}: the Kokoro model is corrupt (sha256 mismatch); delete the "
                                 "file and it is joined again from its packages on next use")
        parts = graph.load_split_graphs(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: the server's workers share one pool, and
        # spinning threads would take the cores from the other running synthesis (2% slower alone).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        return cls(ort.InferenceSession(parts.predictor, options, providers=providers),
                   ort.InferenceSession(parts.decoder, options, providers=providers), precision)

    # -- the two stages ---------------------------------------------------------------------------
    def predict(
        self,
        token_ids: TokenIds,
        style: Style,
        *,
        speed: float = 1.0,
        duration_scale: Control | None = None,
    ) -> ProsodyPrediction:
        """Durations, F0 and energy for 1..510 phoneme token ids (no pad tokens).

        ``style`` is a voice name, a voice pack (510, 256) (the row for this length is used) or a
        style vector (256,). ``duration_scale`` stretches token durations: a number (all tokens,
        pads included, like 1 / speed) or one value per given token (pads kept at 1).
        """
        ids = _checked_tokens(token_ids)
        vector = _checked_style(style, ids.size)
        if not (np.isfinite(speed) and speed > 0):
            raise ProsodyControlError(f"speed must be a finite number above 0, got {speed}")
        outputs = [graph.FRAMES, graph.F0, graph.ENERGY, graph.ALIGNED]
        frames, f0, energy, aligned = self._predictor.run(outputs, {
            graph.TOKENS: np.concatenate([[_PAD], ids, [_PAD]])[None, :],
            graph.STYLE: vector[None, :],
            graph.SPEED: np.array([speed], dtype=np.float32),
            graph.DURATION_SCALE: _duration_scales(duration_scale, ids.size)[None, :],
        })
        return ProsodyPrediction(ids, vector, frames.reshape(-1), f0.reshape(-1), energy.reshape(-1), aligned)

    def decode(self, prediction: ProsodyPrediction) -> BackboneOutput:
        """Audio at 24 kHz for a (possibly edited) prediction."""
        p = prediction
        return self.output(p, self.decoder_audio(p.aligned, p.f0_hz, p.energy, p.style, p.style_offsets))

    def decoder_audio(self, aligned: np.ndarray, f0_hz: np.ndarray, energy: np.ndarray,
                      style: np.ndarray, style_offsets: np.ndarray | None = None) -> np.ndarray:
        """The decoder alone: aligned features (1, 512, frames), F0 and energy (2 * frames,), a
        style (256,) and optional per-layer offsets of its decoder half (58, 128) -> (600 *
        frames,) float32 samples. :mod:`.windowed` decodes windows with it."""
        frames = aligned.shape[-1]
        if style_offsets is None:
            style_offsets = _NO_STYLE_OFFSETS
        elif style_offsets.shape != _NO_STYLE_OFFSETS.shape:
            raise VoiceError(f"style offsets must be {_NO_STYLE_OFFSETS.shape}, got {style_offsets.shape}")
        audio = self._decoder.run(None, {
            graph.ALIGNED: aligned,
            graph.F0: f0_hz.astype(np.float32, copy=False)[None, None, :],
            graph.ENERGY: energy.astype(np.float32, copy=False)[None, None, :],
            graph.STYLE: style[None, :],
            graph.STYLE_OFFSETS: style_offsets.astype(np.float32, copy=False),
        })[0].reshape(-1)
        if audio.size != frames * SAMPLES_PER_FRAME:
            raise ModelError(f"the decoder made {audio.size} samples for {frames} frames; "
                             f"expected {SAMPLES_PER_FRAME} a frame")
        return audio

    def output(self, prediction: ProsodyPrediction, audio: np.ndarray) -> BackboneOutput:
        """``audio`` decoded from ``prediction`` (whole or in windows) with its timings and contours."""
        p = prediction
        if audio.size != p.n_frames * SAMPLES_PER_FRAME:
            raise ModelError(f"{audio.size} samples for {p.n_frames} frames; expected {SAMPLES_PER_FRAME} a frame")
        return BackboneOutput(audio=audio, sample_rate_hz=SAMPLE_RATE_HZ,
                              frames_per_token=p.frames_per_token, token_spans=self.token_spans(p),
                              f0_hz=p.f0_hz, energy=p.energy)

    def synthesize(
        self,
        token_ids: TokenIds,
        style: Style,
        *,
        speed: float = 1.0,
        duration_scale: Control | None = None,
        f0_scale: Control = 1.0,
        f0_range: float = 1.0,
        energy_scale: Control = 1.0,
    ) -> BackboneOutput:
        """Predict, shape the contours, decode.

        ``f0_scale`` and ``energy_scale`` are a number or a curve over the utterance's time (see
        :func:`~emosynth.voice.contours.control_curve`); ``f0_range`` scales voiced log-F0
        around its median (see :func:`~emosynth.voice.contours.shape_f0`). All 1.0 reproduces
        the unedited model's audio exactly.
        """
        p = self.predict(token_ids, style, speed=speed, duration_scale=duration_scale)
        p = replace(p, f0_hz=shape_f0(p.f0_hz, scale=f0_scale, range_scale=f0_range),
                    energy=shape_energy(p.energy, scale=energy_scale))
        return self.decode(p)

    def token_spans(self, p: ProsodyPrediction) -> tuple[TokenSpan, ...]:
        """Where each token will sound (known before decoding: the durations decide it)."""
        bounds = np.maximum(0, np.concatenate([[0], np.cumsum(p.frames_per_token)]) * SAMPLES_PER_FRAME
                            - ACOUSTIC_LEAD_SAMPLES)
        return tuple(
            TokenSpan(index=i, token_id=int(t), symbol=self._symbols.get(int(t), "?"),
                      start_sample=int(bounds[i + 1]), end_sample=int(bounds[i + 2]))
            for i, t in enumerate(p.token_ids)
        )


def _speech_bounds(frames_per_token: np.ndarray) -> tuple[int, int]:
    """(first, last) sample of speech: the pad tokens' frames at both ends are silence, and the
    decoder sounds every token ACOUSTIC_LEAD_SAMPLES early."""
    total = int(frames_per_token.sum()) * SAMPLES_PER_FRAME
    return (max(0, int(frames_per_token[0]) * SAMPLES_PER_FRAME - ACOUSTIC_LEAD_SAMPLES),
            max(0, total - int(frames_per_token[-1]) * SAMPLES_PER_FRAME - ACOUSTIC_LEAD_SAMPLES))


# -- checks ---------------------------------------------------------------------------------------
def _checked_tokens(token_ids: TokenIds) -> np.ndarray:
    ids = np.asarray(token_ids)
    if ids.ndim != 1 or not 1 <= ids.size <= MAX_TOKENS or not np.issubdtype(ids.dtype, np.integer):
        raise VoiceError(f"token ids must be 1 to {MAX_TOKENS} integers in one row, got shape "
                         f"{ids.shape} of {ids.dtype}; split longer text with text_to_chunks")
    if ids.min() < 0 or ids.max() > max(vocabulary().values()):
        raise VoiceError(f"token ids must lie in Kokoro's vocabulary (0..{max(vocabulary().values())})")
    return ids.astype(np.int64)


def _checked_style(style: Style, n_tokens: int) -> np.ndarray:
    vector = np.asarray(style_for(style, n_tokens), dtype=np.float32)
    if vector.shape != (STYLE_DIM,) or not np.all(np.isfinite(vector)):
        raise VoiceError(f"a style vector must be {STYLE_DIM} finite numbers, got shape {vector.shape}")
    return vector


def _duration_scales(control: Control | None, n_tokens: int) -> np.ndarray:
    """(n + 2,) float32 multipliers: a number applies to every token, per-token values get 1 for
    the pads."""
    if control is None:
        return np.ones(n_tokens + 2, dtype=np.float32)
    values = np.atleast_1d(np.asarray(control, dtype=np.float64))
    if values.ndim != 1 or values.size not in (1, n_tokens):
        raise ProsodyControlError(f"duration_scale must be a number or one value per token "
                                  f"({n_tokens}), got shape {np.shape(control)}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ProsodyControlError("duration_scale values must be finite and above 0")
    if values.size == 1:
        return np.full(n_tokens + 2, values[0], dtype=np.float32)
    return np.concatenate([[1.0], values, [1.0]]).astype(np.float32)


def _checked_contour(name: str, curve: np.ndarray, n_steps: int) -> np.ndarray:
    values = np.asarray(curve, dtype=np.float32).reshape(-1)
    if values.size != n_steps or not np.all(np.isfinite(values)):
        raise ProsodyControlError(f"{name} must be {n_steps} finite values (2 per frame), "
                                  f"got {np.shape(curve)}")
    return values


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtraError("the Kokoro voice (onnxruntime)") from None
    return onnxruntime
