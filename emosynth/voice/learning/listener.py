"""A differentiable listener: Whisper's encoder in torch over Kokoro's audio, and a linear emotion
classifier on its pooled states, trained on the fitting speakers' recordings only.

Why: the log-mel reconstruction loss averaged over many speakers pulls joy and anger toward a
generic aroused voice that a speaker-independent recognizer files under fear (docs/voice.md,
"Per-layer offsets"). A perceptual term from a listener that hears emotions across speakers
rewards what distinguishes them instead. The listener must never be the judge: it is trained on
the fitting speakers only, reads Whisper tiny.en (one of the judge's two encoders) so a second
judge on the other encoder alone (Whisper base, judge-side speakers) can confirm what it hears.

Like the recognizer (:mod:`emosynth.recognizer.features`) it reads one middle block's states,
mean- and std-pooled, relative to the same speaker's neutral speech (:class:`SpeakerStatistics`);
unlike it, it is trained on crops as long as the fit's (1.2 s), at Kokoro's level, since those
are what it hears during the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ...emotions import PRIMARY_EMOTIONS
from ...recognizer.encoders import ENCODERS, encoder_model_dir
from ...recognizer.features import _mel_filters
from ...recognizer.model import SHRINKAGE_CLIPS
from ...recognizer.whisper_encoder import WhisperEncoder

__all__ = ["LISTENER_ENCODER", "LinearListener", "SpeakerProjection", "SpeakerStatistics", "WhisperStates",
           "resample_24k_to_16k"]

#: The encoder the listener reads (the judge's other encoder, base, is left to confirm).
LISTENER_ENCODER = "tiny.en"
_N_FFT, _HOP = 400, 160


def resample_24k_to_16k(audio: torch.Tensor) -> torch.Tensor:
    """(batch, n) at 24 kHz -> (batch, 2n/3) at 16 kHz, band-limited through the FFT (differentiable).
    ``n`` must be a multiple of 3; every crop of the fit is (600 samples a frame)."""
    n = audio.shape[-1]
    if n % 3:
        raise ValueError(f"resample_24k_to_16k needs a multiple of 3 samples, got {n}")
    m = 2 * n // 3
    spectrum = torch.fft.rfft(audio)[..., : m // 2 + 1]
    return torch.fft.irfft(spectrum, n=m) * (m / n)


class WhisperStates(nn.Module):
    """Whisper's log-mel and encoder up to the recognizer's block, in torch, from the same weights
    :class:`~emosynth.recognizer.whisper_encoder.WhisperEncoder` reads (held to it by a test)."""

    def __init__(self, encoder: str = LISTENER_ENCODER) -> None:
        super().__init__()
        numpy_encoder = WhisperEncoder(encoder_model_dir(encoder) / "model.bin", ENCODERS[encoder].block)
        self.blocks, self.heads, self.width = numpy_encoder.blocks, numpy_encoder.heads, numpy_encoder.width
        for name, value in numpy_encoder._w.items():
            self.register_buffer(name.replace("/", "__"), torch.from_numpy(np.ascontiguousarray(value)))
        self.register_buffer("mel_bank", torch.from_numpy(_mel_filters()))
        self.register_buffer("window", torch.hann_window(_N_FFT))

    def _w(self, name: str) -> torch.Tensor:
        return getattr(self, name.replace("/", "__"))

    def log_mel(self, samples_16k: torch.Tensor) -> torch.Tensor:
        """(batch, n) -> (batch, 80, 2 ceil(n / 320)), as :func:`~emosynth.recognizer.features.whisper_log_mel`."""
        n = samples_16k.shape[-1]
        padded_n = max(1, -(-n // (2 * _HOP))) * 2 * _HOP
        x = nn.functional.pad(samples_16k, (0, padded_n - n))
        spec = torch.stft(x, _N_FFT, _HOP, window=self.window, center=True, pad_mode="reflect", return_complex=True)
        power = (spec.real**2 + spec.imag**2)[..., :-1]
        log_spec = torch.log10(torch.clamp(self.mel_bank @ power, min=1e-10))
        peak = log_spec.amax(dim=(1, 2), keepdim=True)
        return (torch.maximum(log_spec, peak - 8.0) + 4.0) / 4.0

    def _conv(self, x: torch.Tensor, name: str, stride: int) -> torch.Tensor:
        padded = nn.functional.pad(x, (0, 0, 1, 1))
        n_out = (x.shape[1] - 1) // stride + 1
        windows = torch.cat([padded[:, k: k + stride * (n_out - 1) + 1: stride] for k in range(3)], dim=2)
        return nn.functional.gelu(windows @ self._w(f"{name}/matrix") + self._w(f"{name}/bias"))

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(batch, 80, 2T) -> the read block's states (batch, T, width)."""
        x = self._conv(log_mel.transpose(1, 2), "conv1", 1)
        x = self._conv(x, "conv2", 2)
        x = x + self._w("position_encodings/encodings")[: x.shape[1]]
        b, n = x.shape[:2]
        hw = self.width // self.heads
        for i in range(self.blocks):
            p = f"layer_{i}/"
            h = nn.functional.layer_norm(x, (self.width,), self._w(p + "self_attention/layer_norm/gamma"),
                                         self._w(p + "self_attention/layer_norm/beta"), eps=1e-5)
            qkv = h @ self._w(p + "self_attention/linear_0/weight") + self._w(p + "self_attention/linear_0/bias")
            q, k, v = (m.reshape(b, n, self.heads, hw).transpose(1, 2) for m in qkv.chunk(3, dim=2))
            attended = torch.softmax(q @ k.transpose(2, 3) * hw ** -0.5, dim=-1) @ v
            attended = attended.transpose(1, 2).reshape(b, n, self.width)
            x = x + attended @ self._w(p + "self_attention/linear_1/weight") + self._w(p + "self_attention/linear_1/bias")
            h = nn.functional.layer_norm(x, (self.width,), self._w(p + "ffn/layer_norm/gamma"),
                                         self._w(p + "ffn/layer_norm/beta"), eps=1e-5)
            h = nn.functional.gelu(h @ self._w(p + "ffn/linear_0/weight") + self._w(p + "ffn/linear_0/bias"))
            x = x + h @ self._w(p + "ffn/linear_1/weight") + self._w(p + "ffn/linear_1/bias")
        return x

    def pooled(self, audio_24k: torch.Tensor) -> torch.Tensor:
        """(batch, n) Kokoro-rate audio -> (batch, 2 width): the states' mean then std over time."""
        states = self(self.log_mel(resample_24k_to_16k(audio_24k)))
        return torch.cat([states.mean(dim=1), states.std(dim=1, unbiased=False)], dim=1)


@dataclass(frozen=True)
class SpeakerStatistics:
    """One speaker's neutral features: mean and spread (F,), the spread shrunk towards the pooled
    within-speaker spread as the recognizer's references are (``SHRINKAGE_CLIPS``)."""

    mean: np.ndarray
    sd: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray, pooled_sd: np.ndarray) -> SpeakerStatistics:
        n = len(features)
        sd = np.sqrt((n * features.var(axis=0) + SHRINKAGE_CLIPS * pooled_sd**2) / (n + SHRINKAGE_CLIPS))
        return cls(features.mean(axis=0), sd)


@dataclass(frozen=True)
class LinearListener:
    """softmax(W ((x - speaker mean) / speaker sd - mu) / sigma + b) over the seven primaries."""

    mu: np.ndarray
    sigma: np.ndarray
    weights: np.ndarray  # (7, F)
    bias: np.ndarray  # (7,)

    def logits(self, features: torch.Tensor, speaker: Sequence[SpeakerStatistics]) -> torch.Tensor:
        """(batch, 7) logits for (batch, F) features, row i relative to ``speaker[i]``."""
        mean = torch.tensor(np.stack([s.mean for s in speaker]), dtype=torch.float32)
        sd = torch.tensor(np.stack([s.sd for s in speaker]), dtype=torch.float32)
        z = ((features - mean) / sd - torch.tensor(self.mu, dtype=torch.float32)) / torch.tensor(self.sigma, dtype=torch.float32)
        return z @ torch.tensor(self.weights.T, dtype=torch.float32) + torch.tensor(self.bias, dtype=torch.float32)

    @staticmethod
    def target(emotion: str) -> int:
        return PRIMARY_EMOTIONS.index(emotion)


@dataclass(frozen=True)
class SpeakerProjection:
    """The directions of the pooled features along which speakers differ more than one speaker's
    own clips do (linear discriminant analysis over speakers), scaled so that a speaker's own
    recordings, every emotion included, spread by one unit along each.

    Why: an emotion embedding that moves these coordinates changes who seems to speak, while the
    directions in which one speaker's emotions differ are discounted (they are within-speaker
    spread). The listener stage's speaker term keeps the decoded emotional crops near their
    speaker's decoded neutral ones here; resemblyzer, which the per-voice fit and the benchmark
    read the speaker with, never enters a loss.
    """

    centre: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)
    matrix: np.ndarray  # (F, k)

    @classmethod
    def fit(cls, features: np.ndarray, speakers: Sequence[str], *, max_dims: int = 32,
            shrinkage: float = 0.1) -> SpeakerProjection:
        """From (n, F) features of recordings and their speakers (at least two). The features are
        first reduced to their leading principal components (at most n / 4 of them): with fewer
        recordings than dimensions, discriminants would otherwise find directions in which the
        recordings happen not to vary at all."""
        speakers = np.asarray(speakers)
        names = np.unique(speakers)
        if len(names) < 2:
            raise ValueError(f"a speaker projection needs recordings of at least two speakers, got {len(names)}")
        centre, scale = features.mean(axis=0), features.std(axis=0) + 1e-8
        z = (features - centre) / scale
        components = np.linalg.svd(z, full_matrices=False)[2][: max(len(names), min(128, len(z) // 4))].T
        y = z @ components
        means = np.stack([y[speakers == s].mean(axis=0) for s in names])
        within = np.concatenate([y[speakers == s] - m for s, m in zip(names, means)])
        sw = within.T @ within / len(y)
        sw = (1 - shrinkage) * sw + shrinkage * np.trace(sw) / len(sw) * np.eye(len(sw))
        counts = np.array([np.sum(speakers == s) for s in names])
        between = (means - counts @ means / counts.sum()) * np.sqrt(counts / counts.sum())[:, None]
        from scipy.linalg import eigh

        vectors = eigh(between.T @ between, sw)[1][:, ::-1][:, : min(max_dims, len(names) - 1)]
        matrix = components @ vectors
        spread = np.concatenate([z[speakers == s] @ matrix - (z[speakers == s] @ matrix).mean(axis=0) for s in names])
        return cls(centre, scale, matrix / spread.std(axis=0))  # a speaker's own recordings: one unit a direction

    def coordinates(self, features: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(batch, F) -> (batch, k)."""
        x = torch.as_tensor(features, dtype=torch.float32)
        return ((x - torch.tensor(self.centre, dtype=torch.float32)) / torch.tensor(self.scale, dtype=torch.float32)) \
            @ torch.tensor(self.matrix, dtype=torch.float32)

    def distance(self, features: torch.Tensor, references: Sequence[np.ndarray]) -> torch.Tensor:
        """(batch,) mean squared distance per direction from each row to its reference (F,): about 1
        for a speaker's own recordings against their mean."""
        return ((self.coordinates(features) - self.coordinates(np.stack(references))) ** 2).mean(dim=1)
