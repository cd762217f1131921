"""Kokoro's iSTFTNet generator as torch modules: harmonic source, two upsampling stages with
snake residual blocks, and the inverse STFT of a predicted magnitude and phase.

What the export computes, and so what this computes (checked node by node on the float graph):

* The harmonic source has no random part: the export's SineGen draws neither the noise nor the
  random initial phases of StyleTTS 2's (the graph has no RandomNormal/RandomUniform node), so
  the source is ``tanh(w . (0.1 sin(phase_h) * voiced) + b)`` over harmonics h = 1..9, voiced
  where the 12.5 ms F0 step is above 10 Hz; phase_h is the cumulative sum over F0 steps of
  frac(h F0 / 24000), times 2 pi times 300, linearly interpolated to samples.
* Its 20-point STFT (hop 5, periodic Hann, reflect padding of 10) gives magnitude and phase, the
  phase by the export's rule ``atan(im / re)`` moved by +-pi where re < 0. Many bins are zero in
  exact arithmetic, so their phase is decided by rounding; the decoder is sensitive to it, so the
  STFT reproduces onnxruntime's own rounding (:mod:`.ort_stft`), and the source follows
  onnxruntime's float32 cumulative sum and Resize weights. Gradients of magnitude and phase are
  guarded (see :func:`magnitude_phase`): torch's own are NaN where a bin is exactly zero.
* The inverse STFT is a transposed convolution with the stored ``inverse_basis``, then the
  export's window correction, which divides only the first 20 output samples by the stored
  ``window_sum`` (the rest of the signal is not divided), times 4, and a 10-sample crop at each
  end. This looks like an export quirk; it is copied as is (it touches the first 10 samples of
  the audio only, inside the leading pad token's silence).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .layers import (
    AdainResBlock,
    SnakeResBlock,
    _tensor,
    conv_from_graph,
    linear_from_graph,
)
from .ort_stft import OnnxruntimeStft
from .weights import GraphWeights

__all__ = ["SAMPLES_PER_F0_STEP", "Generator", "HarmonicSource", "magnitude_phase"]

SAMPLE_RATE_HZ = 24_000
SAMPLES_PER_F0_STEP = 300  # 12.5 ms
_HARMONICS = 9
_VOICED_ABOVE_HZ = 10.0
_SINE_AMPLITUDE = 0.1
_N_FFT, _HOP = 20, 5
_PATH = "decoder/decoder/generator"
_STORED = "decoder.decoder.generator"
#: Below this |X|^2 the phase of an STFT bin is rounding noise: its gradient is capped there.
_TINY_POWER = 1e-12


class HarmonicSource(nn.Module):
    """F0 (batch, steps) in Hz, 12.5 ms steps -> excitation (batch, steps * 300) at 24 kHz.

    The phase is summed over steps in float32, one step after the other, as onnxruntime's CumSum
    does (torch's CPU cumsum adds in double: 8e-6 apart after 3 s), and the two Resize nodes are
    rebuilt with onnxruntime's weights (its linear Resize of this 3-d tensor sums four weighted
    terms, each weight halved: bit-exact for harmonics 1-8; for the 9th onnxruntime differs by
    one ulp on 30 % of samples, by a path not found). Gradients are those of the plain formulas.
    """

    def __init__(self, weights: GraphWeights) -> None:
        super().__init__()
        self.mix = linear_from_graph(weights, f"{_PATH}/m_source/l_linear")  # 9 -> 1
        self.register_buffer("harmonics", torch.arange(1, _HARMONICS + 1, dtype=torch.float32)[:, None],
                             persistent=False)

    def forward(self, f0: torch.Tensor) -> torch.Tensor:
        step = f0[:, None, :] * self.harmonics / SAMPLE_RATE_HZ  # (batch, 9, steps), cycles/sample
        step = step - torch.floor(step)
        down = _resize_weights(step.shape[-1] * SAMPLES_PER_F0_STEP, step.shape[-1], 1 / SAMPLES_PER_F0_STEP)
        step = _resize(step, down, lambda i: i // SAMPLES_PER_F0_STEP)  # a mean of equal values
        phase = _float32_cumsum(step) * 2.0 * math.pi * SAMPLES_PER_F0_STEP
        up = _resize_weights(step.shape[-1], step.shape[-1] * SAMPLES_PER_F0_STEP, SAMPLES_PER_F0_STEP)
        phase = _resize(phase, up)
        voiced = (f0 > _VOICED_ABOVE_HZ).to(f0.dtype).repeat_interleave(SAMPLES_PER_F0_STEP, dim=-1)
        sines = torch.sin(phase) * _SINE_AMPLITUDE * voiced[:, None, :]
        return torch.tanh(self.mix(sines.transpose(1, 2)))[..., 0]


def _float32_cumsum(x: torch.Tensor) -> torch.Tensor:
    """Cumulative sum over the last axis with float32 sequential values and cumsum's gradient."""
    exact = np.cumsum(x.detach().cpu().to(torch.float32).numpy(), axis=-1, dtype=np.float32)
    plain = torch.cumsum(x, dim=-1)
    return torch.from_numpy(exact).to(x) + (plain - plain.detach())


def _resize_weights(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, ...]:
    """onnxruntime's half-pixel linear Resize along one axis: source indices x1, x2 and weights
    (already halved) for each output position, in float32 as it computes them."""
    f32 = np.float32
    x = np.arange(n_out, dtype=f32)
    src = (x + f32(0.5)) / f32(scale) - f32(0.5)
    src = np.clip(src, f32(0), f32(n_in - 1)).astype(f32)
    x1 = np.minimum(src.astype(np.int64), n_in - 1)
    x2 = np.minimum(x1 + 1, n_in - 1)
    w1 = np.abs(src - x1.astype(f32)).astype(f32)  # weight of x2
    w2 = np.abs(src - x2.astype(f32)).astype(f32)  # weight of x1
    w1[x1 == x2], w2[x1 == x2] = 0.5, 0.5
    return x1, x2, f32(0.5) * w2, f32(0.5) * w1


def _resize(values: torch.Tensor, weights: tuple[np.ndarray, ...],
            where: Callable[[np.ndarray], np.ndarray] | None = None) -> torch.Tensor:
    """Apply :func:`_resize_weights` to the last axis: ((a x1 + b x2) + a x1) + b x2, as summed
    there. ``where`` maps source indices onto ``values`` when it is stored at a coarser rate."""
    x1, x2, a, b = weights
    if where is not None:
        x1, x2 = where(x1), where(x2)
    v1, v2 = values[..., torch.from_numpy(x1)], values[..., torch.from_numpy(x2)]
    a_t, b_t = torch.from_numpy(a).to(values), torch.from_numpy(b).to(values)
    return ((a_t * v1 + b_t * v2) + a_t * v1) + b_t * v2


def magnitude_phase(re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """|X| and the export's angle of X, with gradients that stay finite at X = 0.

    Values are what the graph computes: sqrt(re^2 + im^2), and atan(im / re) moved by +pi
    (im > 0) or -pi (otherwise) where re < 0 (0 where re = im = 0, which the graph would make
    NaN). Gradients are the analytic ones, (re dre + im dim) / |X| and (re dim - im dre) / |X|^2,
    with |X|^2 floored at 1e-12 (the phase of such a bin is rounding noise).
    """
    power = re * re + im * im
    with torch.no_grad():
        angle = torch.atan(im / re)
        angle = torch.where(re < 0, torch.where(im > 0, angle + math.pi, angle - math.pi), angle)
        angle = torch.nan_to_num(angle, nan=0.0)
        floor = power.clamp_min(_TINY_POWER)
        magnitude = torch.sqrt(power)
    re_d, im_d = re.detach(), im.detach()
    d_mag = (re_d * re + im_d * im) / torch.sqrt(floor)
    d_phase = (re_d * im - im_d * re) / floor
    return magnitude + (d_mag - d_mag.detach()), angle + (d_phase - d_phase.detach())


class Generator(nn.Module):
    """Decoder features (batch, 512, 2 * frames), style (batch, 128) and F0 (batch, 2 * frames)
    -> audio (batch, 600 * frames)."""

    def __init__(self, weights: GraphWeights) -> None:
        super().__init__()
        self.source = HarmonicSource(weights)
        self.stft = OnnxruntimeStft(torch.from_numpy(weights.array(f"/{_PATH}/Constant_17_output_0")), _HOP)
        self.noise_convs = nn.ModuleList(conv_from_graph(weights, f"{_PATH}/noise_convs.{i}") for i in range(2))
        self.noise_res = nn.ModuleList(SnakeResBlock(weights, f"{_PATH}/noise_res.{i}") for i in range(2))
        self.ups = nn.ModuleList(conv_from_graph(weights, f"{_PATH}/ups.{i}") for i in range(2))
        self.resblocks = nn.ModuleList(SnakeResBlock(weights, f"{_PATH}/resblocks.{i}") for i in range(6))
        self.conv_post = conv_from_graph(weights, f"{_PATH}/conv_post")
        self.inverse_basis = _tensor(weights.array(f"{_STORED}.stft.istft.stft.inverse_basis"))
        self.window_sum = _tensor(weights.array(f"{_STORED}.stft.istft.stft.window_sum"))

    def forward(self, x: torch.Tensor, style: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        harmonic = self.source_spectrum(self.source(f0))
        for i in range(2):
            x = F.leaky_relu(x, 0.1)
            x_source = self.noise_res[i](self.noise_convs[i](harmonic), style)
            x = self.ups[i](x)
            if i == 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + x_source
            blocks = self.resblocks[3 * i:3 * i + 3]
            x = (blocks[0](x, style) + blocks[1](x, style) + blocks[2](x, style)) / 3.0
        x = self.conv_post(F.leaky_relu(x, 0.01))
        bins = _N_FFT // 2 + 1
        return self.inverse_stft(torch.exp(x[:, :bins]), torch.sin(x[:, bins:]))

    def source_spectrum(self, source: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, 22, samples / 5 + 1): 11 magnitudes, then 11 phases."""
        magnitude, phase = magnitude_phase(*self.stft(source))
        return torch.cat([magnitude, phase], dim=1)

    def inverse_stft(self, magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """(batch, 11, steps) twice -> (batch, 5 * (steps - 1)) samples, as the export computes it."""
        spec = torch.cat([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=1)
        y = F.conv_transpose1d(spec, self.inverse_basis, stride=_HOP)[:, 0]
        n = min(self.window_sum.numel(), y.shape[-1])
        head = self.window_sum[:n]
        head = torch.where(head > torch.finfo(torch.float32).tiny, head, torch.ones_like(head))
        y = torch.cat([y[:, :n] / head, y[:, n:]], dim=-1) * 4.0
        return y[:, _N_FFT // 2:-(_N_FFT // 2)]


class DecoderBody(nn.Module):
    """The decoder up to the generator: F0/energy convs, encode block, four decode blocks."""

    def __init__(self, weights: GraphWeights) -> None:
        super().__init__()
        path = "decoder/decoder"
        self.f0_conv = conv_from_graph(weights, f"{path}/F0_conv")
        self.n_conv = conv_from_graph(weights, f"{path}/N_conv")
        self.asr_res = conv_from_graph(weights, f"{path}/asr_res/asr_res.0")
        self.encode = AdainResBlock(weights, f"{path}/encode", learned_shortcut=True)
        self.decode = nn.ModuleList(
            AdainResBlock(weights, f"{path}/decode.{i}", learned_shortcut=True, upsample=i == 3)
            for i in range(4))

    def forward(self, aligned: torch.Tensor, f0: torch.Tensor, energy: torch.Tensor,
                style: torch.Tensor) -> torch.Tensor:
        f0_feature = self.f0_conv(f0[:, None, :])
        energy_feature = self.n_conv(energy[:, None, :])
        x = self.encode(torch.cat([aligned, f0_feature, energy_feature], dim=1), style)
        residual = self.asr_res(aligned)
        for block in self.decode:
            x = block(torch.cat([x, residual, f0_feature, energy_feature], dim=1), style)
        return x
