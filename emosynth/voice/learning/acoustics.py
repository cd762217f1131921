"""A recording's F0 and energy in Kokoro's units, on the 12.5 ms grid of its aligned frames.

Why these definitions: the fitted style must make Kokoro's own predictor and decoder reproduce
the recording, so the targets must be what Kokoro was trained to predict.

* Energy is StyleTTS 2's ``N``: ``log(||mel||_2)`` over the 80 bands of the power mel spectrogram
  its training computed (torchaudio ``MelSpectrogram(n_mels=80, n_fft=2048, win_length=1200,
  hop_length=300)`` at 24 kHz: HTK mel scale, no filter normalisation, centred periodic Hann
  window, reflect padding) plus the 1e-5 its log-mel adds (``log_norm`` in StyleTTS 2's utils).
  Checked on Kokoro's own output (9 English and Polish sentences x jf_alpha, jm_kumo, jf_nezumi;
  float graph): this measure of the audio against the N curve the predictor made for it
  correlates 0.979-0.997 at lag 0, the best lag every time; pooled fit ``N_predicted = 0.972 x
  measured + 0.123``, per voice offsets -0.14..+0.67 of either sign, so no correction is applied
  (docs/voice-material.md).
* F0 is WORLD Harvest with the profiles' settings and voicing clean-up
  (:func:`emosynth.profiles.measure.voiced_f0`), in Hz, 0 where unvoiced. Kokoro's predicted
  curve writes 2-12 Hz where the audio is unvoiced (its decoder's sine source is off at or below
  10 Hz), so 0 means the same to the decoder; on voiced steps Harvest on Kokoro's output and the
  predicted curve agree with a median ratio of 1.0014 (0.997-1.006 per reading), lag 0.

Step ``j`` of both curves is centred on sample ``300 * j`` of the aligned span (torch's centred
STFT frames; Harvest's frame ``j`` is at time ``j * 12.5 ms``), the convention the predictor's
curves follow (measured: the N-curve correlation peaks at lag 0).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..backbone import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME

__all__ = [
    "STEP_SAMPLES",
    "energy_curve",
    "f0_curve",
    "mel_filterbank",
    "mel_power",
]

#: Samples per F0/energy step at 24 kHz: half a duration frame, 12.5 ms.
STEP_SAMPLES = SAMPLES_PER_FRAME // 2
_N_FFT = 2048
_WIN = 1200
_N_MELS = 80
#: StyleTTS 2's log-mel adds this before the log; its N undoes the log, so the offset stays.
_MEL_FLOOR = 1e-5


@lru_cache(maxsize=8)
def mel_filterbank(n_fft: int, n_mels: int, sample_rate_hz: int, f_min_hz: float,
                   f_max_hz: float) -> np.ndarray:
    """Triangular filters on the HTK mel scale, unnormalised, shape (n_fft // 2 + 1, n_mels):
    torchaudio's ``melscale_fbanks`` default, which StyleTTS 2's mel uses."""
    def to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    freqs = np.linspace(0.0, sample_rate_hz // 2, n_fft // 2 + 1)
    mel_points = np.linspace(to_mel(np.array(f_min_hz)), to_mel(np.array(f_max_hz)), n_mels + 2)
    hz_points = 700.0 * (10.0 ** (mel_points / 2595.0) - 1.0)
    gaps = np.diff(hz_points)
    slopes = hz_points[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / gaps[:-1]
    up = slopes[:, 2:] / gaps[1:]
    bank = np.maximum(0.0, np.minimum(down, up))
    bank.setflags(write=False)
    return bank


def mel_power(samples: np.ndarray, *, n_fft: int, win: int, hop: int, filterbank: np.ndarray) -> np.ndarray:
    """Power mel spectrogram, shape (1 + n // hop, mels): centred frames (reflect padding), a
    periodic Hann window of ``win`` samples centred in ``n_fft``, frame ``j`` at sample ``hop * j``."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    window = np.zeros(n_fft)
    offset = (n_fft - win) // 2
    window[offset:offset + win] = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win) / win)
    pad = n_fft // 2
    padded = np.pad(x, (pad, pad), mode="reflect" if x.size > pad else "constant")
    n_frames = 1 + x.size // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]
    return (np.abs(np.fft.rfft(frames * window, axis=1)) ** 2) @ filterbank


def energy_curve(samples_24k: np.ndarray, n_steps: int) -> np.ndarray:
    """Kokoro's energy (StyleTTS 2's N) of 24 kHz audio, ``n_steps`` values of 12.5 ms, float32."""
    bank = mel_filterbank(_N_FFT, _N_MELS, SAMPLE_RATE_HZ, 0.0, SAMPLE_RATE_HZ / 2)
    mel = mel_power(samples_24k, n_fft=_N_FFT, win=_WIN, hop=STEP_SAMPLES, filterbank=bank)
    n = np.log(np.linalg.norm(mel + _MEL_FLOOR, axis=1))
    return _fit_length(n, n_steps).astype(np.float32)


def f0_curve(samples: np.ndarray, sample_rate_hz: int, n_steps: int) -> np.ndarray:
    """F0 in Hz (0 where unvoiced) every 12.5 ms from the first sample, ``n_steps`` values, float32.

    Any rate of 10 kHz or more (the 24 kHz copy and the 16 kHz original of a nEMO clip agreed on
    99.4% of voicing decisions, median F0 ratio 1.0000, at the same cost: about 0.6 s for 3 s).
    """
    from ...profiles.measure import (
        voiced_f0,  # pyworld (extras train/profiles) loads here
    )

    f0, _ = voiced_f0(samples, sample_rate_hz, frame_period_ms=1000.0 * STEP_SAMPLES / SAMPLE_RATE_HZ)
    return _fit_length(f0, n_steps).astype(np.float32)


def _fit_length(values: np.ndarray, n: int) -> np.ndarray:
    """Cut to ``n`` values, or hold the last one (an analysis of n * 300 samples gives n + 1)."""
    if values.size >= n:
        return values[:n]
    return np.concatenate([values, np.full(n - values.size, values[-1] if values.size else 0.0)])
