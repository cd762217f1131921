"""The generator's 20-point STFT as onnxruntime computes it, rounding included, with torch's gradient.

Why: the decoder feeds the phase of every STFT bin of its harmonic source to a convolution, and
many of those bins are zero in exact arithmetic (the DC bin's imaginary part, all but three bins
of a frame of constant source in unvoiced stretches). Their phase is then decided by rounding
noise: in unvoiced frames onnxruntime's DC bin has an imaginary part of +1e-7 (phase pi - 4e-7)
where torch's FFT gives exactly 0 (phase -pi under the export's atan rule). Fed the same source,
a torch STFT put the twin's audio 0.31 nats (log-mel) from onnxruntime's; this one brings it to
the measured noise floor.

onnxruntime (checked on 1.32; older releases used a plain DFT) computes a DFT whose length is
not a power of two with Bluestein's chirp-z algorithm: the windowed frame times a chirp, a 64-point radix-2 FFT, a
product with the FFT of the conjugate chirp, an inverse FFT that reuses the forward twiddles,
the output read backwards, times the chirp. The twiddles and chirp are float32 ``cosf``/``sinf``
of float32 angles; they are taken from the C library here (as onnxruntime does), else computed
in double and rounded (then a few values may be one ulp off). The emulation is bit-exact against
onnxruntime's STFT node on random and constant frames; it gives the forward values only, and
the gradient is that of ``torch.stft`` (the same linear map, without the rounding). Should a
new onnxruntime change its algorithm, tests/test_kokoro_torch.py says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["OnnxruntimeStft"]

_F32 = np.float32


def _libm_trig() -> tuple[Callable[[float], float], Callable[[float], float]] | None:
    name = ctypes.util.find_library("m")
    try:
        libm = ctypes.CDLL(name or "libm.so.6")
        cosf, sinf = libm.cosf, libm.sinf
    except (OSError, AttributeError):
        return None
    for fn in (cosf, sinf):
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return cosf, sinf


def _unit(angles: np.ndarray) -> np.ndarray:
    """(n, 2) float32 cos, sin of float32 angles, as float32 cosf / sinf compute them."""
    trig = _libm_trig()
    if trig is None:
        a = angles.astype(np.float64)
        return np.stack([np.cos(a), np.sin(a)], axis=-1).astype(_F32)
    cosf, sinf = trig
    return np.array([[cosf(float(a)), sinf(float(a))] for a in angles], dtype=_F32)


def _bit_reverse(i: int, bits: int) -> int:
    return int(format(i, f"0{bits}b")[::-1], 2) if bits else 0


class OnnxruntimeStft(nn.Module):
    """One-sided STFT of (batch, samples) with onnxruntime's values and torch's gradient:
    reflect padding of n_fft / 2, hop ``hop``, the given window -> (re, im), each
    (batch, n_fft / 2 + 1, samples / hop + 1)."""

    def __init__(self, window: torch.Tensor, hop: int) -> None:
        super().__init__()
        n = int(window.numel())
        m = 1 << (2 * n - 2).bit_length()  # next power of two >= 2n - 1
        if n & (n - 1) == 0:
            raise ValueError("a power-of-two STFT length takes onnxruntime's plain radix-2 path, not emulated here")
        self.n, self.m, self.hop, self.bits = n, m, hop, m.bit_length() - 1
        self.register_buffer("window", window.detach().to(torch.float32).clone(), persistent=False)
        pi = _F32(math.pi)
        step = _F32(_F32(-1.0) * _F32(_F32(2.0) * pi)) / _F32(m)
        twiddle = np.empty((m, 2), _F32)
        twiddle[[_bit_reverse(i, self.bits) for i in range(m)]] = _unit(
            np.array([_F32(i) * step for i in range(m)], _F32))
        k = np.arange(n)
        chirp = _unit(np.array([_F32(_F32(_F32(-pi) * _F32(i)) * _F32(i)) / _F32(n) for i in k], _F32))
        self.register_buffer("chirp", torch.from_numpy(chirp), persistent=False)
        self.register_buffer("load", torch.tensor([_bit_reverse(i, self.bits) for i in range(m)]), persistent=False)
        bins = n // 2 + 1
        self.register_buffer("read", torch.tensor([0] + [m - i for i in range(1, bins)]), persistent=False)
        for bits in range(1, self.bits + 1):  # per stage: the twiddles of the upper and lower halves
            mid = 1 << (bits - 1)
            pair = [[_bit_reverse(k, bits) for k in range(mid)], [_bit_reverse(mid + k, bits) for k in range(mid)]]
            self.register_buffer(f"stage{bits}", torch.from_numpy(twiddle[pair]), persistent=False)
        b = np.zeros((m, 2), _F32)
        b[:n] = chirp * np.array([1, -1], _F32)  # conjugate
        b[m - n + 1:] = b[1:n][::-1]
        b_re, b_im = self._fft(torch.from_numpy(b[:, 0])[None], torch.from_numpy(b[:, 1])[None], inverse=False)
        self.register_buffer("b_fft", torch.stack([b_re[0], b_im[0]], dim=-1), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spec = torch.stft(x, self.n, hop_length=self.hop, win_length=self.n, window=self.window,
                          center=True, pad_mode="reflect", onesided=True, return_complex=True)
        with torch.no_grad():
            re, im = self._values(x.detach().to(torch.float32))
        # value exactly the emulated one (x - x == 0), gradient torch.stft's
        return (re.to(x.dtype) + (spec.real - spec.real.detach()),
                im.to(x.dtype) + (spec.imag - spec.imag.detach()))

    # -- the emulation (float32, one rounding per operation, in onnxruntime's order) --------------
    def _values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = self.n // 2
        frames = torch.nn.functional.pad(x[:, None], (pad, pad), mode="reflect")[:, 0]
        frames = frames.unfold(-1, self.n, self.hop)  # (batch, steps, n)
        xw = frames * self.window
        a_re = frames.new_zeros(*frames.shape[:-1], self.m)
        a_im = torch.zeros_like(a_re)
        a_re[..., :self.n] = xw * self.chirp[:, 0]
        a_im[..., :self.n] = xw * self.chirp[:, 1]
        a_re, a_im = self._fft(a_re, a_im, inverse=False)
        a_re, a_im = _cmul(a_re, a_im, self.b_fft[:, 0], self.b_fft[:, 1])
        a_re, a_im = self._fft(a_re, a_im, inverse=True)
        bins = self.read.numel()
        re, im = _cmul(a_re[..., self.read], a_im[..., self.read], self.chirp[:bins, 0], self.chirp[:bins, 1])
        return re.transpose(-1, -2), im.transpose(-1, -2)

    def _fft(self, re: torch.Tensor, im: torch.Tensor, *, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """onnxruntime's radix-2 FFT over the last axis (length m); the inverse reuses the forward
        twiddles, so its output comes reversed, as onnxruntime's does."""
        re, im = re[..., self.load], im[..., self.load]
        for bits in range(1, self.bits + 1):
            size, mid = 1 << bits, 1 << (bits - 1)
            w1, w2 = getattr(self, f"stage{bits}")
            shape = (*re.shape[:-1], self.m // size, size)
            re, im = re.reshape(shape), im.reshape(shape)
            e_re, e_im, o_re, o_im = re[..., :mid], im[..., :mid], re[..., mid:], im[..., mid:]
            p_re, p_im = _cmul(w1[:, 0], w1[:, 1], o_re, o_im)
            q_re, q_im = _cmul(w2[:, 0], w2[:, 1], o_re, o_im)
            re = torch.cat([e_re + p_re, e_re + q_re], dim=-1).reshape(*shape[:-2], self.m)
            im = torch.cat([e_im + p_im, e_im + q_im], dim=-1).reshape(*shape[:-2], self.m)
        if inverse:
            re, im = re / float(self.m), im / float(self.m)
        return re, im


def _cmul(a_re: torch.Tensor, a_im: torch.Tensor, b_re: torch.Tensor,
          b_im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """std::complex<float> product: (ac - bd, ad + bc), each product rounded before the sum."""
    return a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re
