"""Building blocks shared by Kokoro's prosody predictor and decoder (StyleTTS 2 layers), as torch
modules filled from the float graph (:class:`~emosynth.voice.learning.weights.GraphWeights`).

Each computes what its ONNX nodes compute, in the same order where float32 rounding could tell
(instance norm as mean / centred mean square / divide by sqrt, the residual sum divided by
float32 sqrt(2)). The weights are plain tensors with ``requires_grad=False``: fitting moves the
inputs (style vectors, curves), never the model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .weights import GraphWeights

__all__ = [
    "AdaIN1d",
    "AdaLayerNorm",
    "AdainResBlock",
    "BiLSTM",
    "SnakeResBlock",
    "conv_from_graph",
    "instance_norm",
    "linear_from_graph",
]

_EPS = 1e-5  # every InstanceNorm / LayerNorm of the export
_SQRT2 = math.sqrt(2.0)  # rounds to the graph's constant 1.4142135381698608 in float32


def _tensor(values: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.ascontiguousarray(values)), requires_grad=False)


def conv_from_graph(weights: GraphWeights, path: str) -> nn.Module:
    """An ``nn.Conv1d`` or ``nn.ConvTranspose1d`` with the node's weights and attributes."""
    spec = weights.conv(path)
    if spec.transposed:
        in_ch, out_per_group, k = spec.weight.shape
        layer: nn.Module = nn.ConvTranspose1d(
            in_ch, out_per_group * spec.groups, k, stride=spec.stride, padding=spec.padding,
            output_padding=spec.output_padding, groups=spec.groups, dilation=spec.dilation,
            bias=spec.bias is not None)
    else:
        out_ch, in_per_group, k = spec.weight.shape
        layer = nn.Conv1d(in_per_group * spec.groups, out_ch, k, stride=spec.stride,
                          padding=spec.padding, dilation=spec.dilation, groups=spec.groups,
                          bias=spec.bias is not None)
    layer.weight = _tensor(spec.weight)
    if spec.bias is not None:
        layer.bias = _tensor(spec.bias)
    return layer


def linear_from_graph(weights: GraphWeights, path: str) -> nn.Linear:
    """An ``nn.Linear`` from a MatMul by a stored (in, out) matrix and its bias Add."""
    matrix, bias = weights.linear(path)
    layer = nn.Linear(matrix.shape[0], matrix.shape[1], bias=bias is not None)
    layer.weight = _tensor(matrix.T)
    if bias is not None:
        layer.bias = _tensor(bias)
    return layer


def instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Per-channel normalisation over time of (batch, channels, time), biased variance, eps 1e-5."""
    centred = x - x.mean(dim=-1, keepdim=True)
    return centred / torch.sqrt((centred * centred).mean(dim=-1, keepdim=True) + _EPS)


class AdaIN1d(nn.Module):
    """Instance norm whose scale ``1 + gamma`` and shift ``beta`` are a linear map of the style.

    ``style`` is (batch, dims), or (batch, layers, dims) with a row per AdaIN layer of the model
    (the decoder numbers its layers, :attr:`layer`), so each layer may read its own style."""

    def __init__(self, weights: GraphWeights, path: str) -> None:
        super().__init__()
        self.path = path  # the graph's node path: the ONNX decoder's per-layer input is matched by it
        self.layer = 0
        self.fc = linear_from_graph(weights, f"{path}/fc")

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if style.ndim == 3:
            style = style[:, self.layer]
        gamma, beta = self.fc(style)[..., None].chunk(2, dim=1)
        return (1 + gamma) * instance_norm(x) + beta


class AdaLayerNorm(nn.Module):
    """Layer norm over channels of (batch, time, channels), scaled and shifted by the style."""

    def __init__(self, weights: GraphWeights, path: str) -> None:
        super().__init__()
        self.fc = linear_from_graph(weights, f"{path}/fc")

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(style)[:, None, :].chunk(2, dim=-1)
        return (1 + gamma) * F.layer_norm(x, x.shape[-1:], eps=_EPS) + beta


class AdainResBlock(nn.Module):
    """StyleTTS 2's AdainResBlk1d: (residual + shortcut) / sqrt(2), the residual being
    AdaIN -> LeakyReLU(0.2) -> [depthwise transposed-conv x2 upsampling] -> conv -> AdaIN ->
    LeakyReLU -> conv; the shortcut nearest-upsampled and 1x1-convolved when shapes change."""

    def __init__(self, weights: GraphWeights, path: str, *, upsample: bool = False,
                 learned_shortcut: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.norm1 = AdaIN1d(weights, f"{path}/norm1")
        self.norm2 = AdaIN1d(weights, f"{path}/norm2")
        self.conv1 = conv_from_graph(weights, f"{path}/conv1")
        self.conv2 = conv_from_graph(weights, f"{path}/conv2")
        self.pool = conv_from_graph(weights, f"{path}/pool") if upsample else None
        self.conv1x1 = conv_from_graph(weights, f"{path}/conv1x1") if learned_shortcut else None

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        shortcut = x.repeat_interleave(2, dim=-1) if self.upsample else x
        if self.conv1x1 is not None:
            shortcut = self.conv1x1(shortcut)
        r = F.leaky_relu(self.norm1(x, style), 0.2)
        if self.pool is not None:
            r = self.pool(r)
        r = F.leaky_relu(self.norm2(self.conv1(r), style), 0.2)
        return (self.conv2(r) + shortcut) / _SQRT2


def snake(x: torch.Tensor, alpha: torch.Tensor, inverse_alpha: torch.Tensor) -> torch.Tensor:
    """x + sin(alpha x)^2 / alpha (the export stores 1 / alpha as its own constant)."""
    return x + inverse_alpha * torch.sin(alpha * x) ** 2


class SnakeResBlock(nn.Module):
    """The generator's AdaINResBlock1: three (AdaIN, snake, dilated conv, AdaIN, snake, conv)
    residual steps with dilations 1, 3, 5."""

    def __init__(self, weights: GraphWeights, path: str) -> None:
        super().__init__()
        stored = path.replace("/", ".")  # alphas are stored under the module's dotted name
        self.convs1 = nn.ModuleList(conv_from_graph(weights, f"{path}/convs1.{j}") for j in range(3))
        self.convs2 = nn.ModuleList(conv_from_graph(weights, f"{path}/convs2.{j}") for j in range(3))
        self.adain1 = nn.ModuleList(AdaIN1d(weights, f"{path}/adain1.{j}") for j in range(3))
        self.adain2 = nn.ModuleList(AdaIN1d(weights, f"{path}/adain2.{j}") for j in range(3))
        self.alpha1 = nn.ParameterList(_tensor(weights.array(f"{stored}.alpha1.{j}")) for j in range(3))
        self.alpha2 = nn.ParameterList(_tensor(weights.array(f"{stored}.alpha2.{j}")) for j in range(3))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        for j in range(3):
            a1, a2 = self.alpha1[j], self.alpha2[j]
            t = self.convs1[j](snake(self.adain1[j](x, style), a1, 1 / a1))
            t = self.convs2[j](snake(self.adain2[j](t, style), a2, 1 / a2))
            x = t + x
        return x


class BiLSTM(nn.Module):
    """A bidirectional one-layer LSTM from an ONNX LSTM node, on (batch, time, features).

    ONNX orders the gates i, o, f, c and keeps the two biases in one (2, 8H) row; torch wants
    i, f, c, o and two bias vectors, so the blocks are reordered once at load.
    """

    _ORDER = (0, 2, 3, 1)  # torch gate k is ONNX gate _ORDER[k]

    def __init__(self, weights: GraphWeights, path: str) -> None:
        super().__init__()
        w, r, b = weights.lstm(path)
        hidden = r.shape[-1]
        self.lstm = nn.LSTM(w.shape[-1], hidden, batch_first=True, bidirectional=True)
        for d, suffix in enumerate(("", "_reverse")):
            for name, values in (("weight_ih", w[d]), ("weight_hh", r[d]),
                                 ("bias_ih", b[d, :4 * hidden]), ("bias_hh", b[d, 4 * hidden:])):
                blocks = np.split(values, 4)
                setattr(self.lstm, f"{name}_l0{suffix}",
                        _tensor(np.concatenate([blocks[k] for k in self._ORDER])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]
