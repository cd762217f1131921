"""The losses the emotion fit minimises: how far Kokoro's output is from a recording.

* :class:`MultiResolutionLogMel` - the decoder's loss: L1 distance of log-mel magnitude spectra at
  three STFT resolutions, mel bands up to 8 kHz only (the corpora are 16 kHz recordings: above
  8 kHz a recording holds nothing Kokoro could be asked to make). Both spectra are floored at
  the target's loudest band value less :data:`DYNAMIC_RANGE_NATS`: below that a recording holds
  its room's noise, which Kokoro (silent there) should not be asked to make.
* :func:`prosody_loss` - the predictor's loss: per-token durations before rounding (log frames),
  F0 on steps voiced in the recording (log Hz) and energy (Kokoro's N) over the speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .acoustics import mel_filterbank

__all__ = ["DYNAMIC_RANGE_NATS", "MultiResolutionLogMel", "ProsodyLoss", "prosody_loss"]

_SAMPLE_RATE_HZ = 24_000
#: (n_fft, hop): about 21, 43 and 85 ms windows at 24 kHz.
_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
_N_MELS = 80
_F_MAX_HZ = 8_000.0
_FLOOR = 1e-5
#: What the spectral loss compares below the target's peak: 7 nats, about 61 dB.
DYNAMIC_RANGE_NATS = 7.0
#: Per-step errors are capped (log Hz, N units): a Harvest octave error or a step the alignment
#: put in the wrong place should not steer an emotion.
_MAX_F0_ERROR = 0.7
_MAX_ENERGY_ERROR = 2.0


class MultiResolutionLogMel(nn.Module):
    """``forward(predicted, target)``: mean over resolutions of mean |log mel(p) - log mel(t)|,
    both (batch, samples) at 24 kHz. Magnitude (not power) mel, floor 1e-5 as in HiFi-GAN."""

    def __init__(self) -> None:
        super().__init__()
        for n_fft, _ in _RESOLUTIONS:
            bank = mel_filterbank(n_fft, _N_MELS, _SAMPLE_RATE_HZ, 0.0, _F_MAX_HZ)
            self.register_buffer(f"bank_{n_fft}", torch.from_numpy(np.ascontiguousarray(bank, dtype=np.float32)))
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft))

    def log_mel(self, audio: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
        spec = torch.stft(audio, n_fft, hop, window=getattr(self, f"window_{n_fft}"), center=True,
                          return_complex=True)
        magnitude = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-12)  # a safe gradient at silence
        return torch.log(torch.clamp(magnitude.transpose(1, 2) @ getattr(self, f"bank_{n_fft}"), min=_FLOOR))

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if predicted.shape != target.shape:
            raise ValueError(f"predicted {tuple(predicted.shape)} and target {tuple(target.shape)} differ")
        losses = []
        for n, h in _RESOLUTIONS:
            want = self.log_mel(target, n, h)
            floor = (want.amax(dim=(1, 2), keepdim=True) - DYNAMIC_RANGE_NATS).detach()
            got = torch.maximum(self.log_mel(predicted, n, h), floor)
            losses.append(torch.mean(torch.abs(got - torch.maximum(want, floor))))
        return torch.stack(losses).mean()


@dataclass(frozen=True)
class ProsodyLoss:
    """The predictor's three terms for one clip (tensors, so they can be summed and backpropagated)."""

    duration: torch.Tensor  # mean |log(1 + d) - log(1 + d_target)| over the sentence's tokens
    f0: torch.Tensor  # mean |log f0 - log f0_target| (capped) over the recording's voiced steps
    energy: torch.Tensor  # mean |N - N_target| (capped) over the steps of the sentence's tokens

    @property
    def total(self) -> torch.Tensor:
        return self.duration + self.f0 + self.energy

    def to_dict(self) -> dict[str, float]:
        return {"duration": float(self.duration), "f0": float(self.f0), "energy": float(self.energy)}


def prosody_loss(durations: torch.Tensor, f0_hz: torch.Tensor, energy: torch.Tensor, *,
                 frames_per_token: np.ndarray, target_f0_hz: np.ndarray, target_energy: np.ndarray) -> ProsodyLoss:
    """Predicted (1, tokens) durations and (1, 2 * frames) curves against a recording's.

    The pad tokens at either end are left out (their frames are the silence around the speech,
    which the alignment sets, not the predictor). Unvoiced steps carry no F0 error: Kokoro's
    curve there is below its sine source's 10 Hz threshold either way.
    """
    frames = torch.from_numpy(np.asarray(frames_per_token, dtype=np.float32))
    duration = torch.mean(torch.abs(torch.log1p(durations[0, 1:-1]) - torch.log1p(frames[1:-1])))
    first, last = int(frames_per_token[0]), int(np.sum(frames_per_token[:-1]))
    speech = slice(2 * first, 2 * last)
    target_f0 = torch.from_numpy(np.asarray(target_f0_hz, dtype=np.float32))[speech]
    voiced = target_f0 > 0
    if bool(voiced.any()):
        predicted = torch.clamp(f0_hz[0, speech][voiced], min=20.0)
        f0 = torch.mean(torch.clamp(torch.abs(torch.log(predicted) - torch.log(target_f0[voiced])),
                                    max=_MAX_F0_ERROR))
    else:
        f0 = f0_hz.sum() * 0.0
    target_n = torch.from_numpy(np.asarray(target_energy, dtype=np.float32))[speech]
    energy_error = torch.clamp(torch.abs(energy[0, speech] - target_n), max=_MAX_ENERGY_ERROR)
    return ProsodyLoss(duration, f0, torch.mean(energy_error))
