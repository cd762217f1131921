"""Speech quality without a reference recording: DNSMOS (optional extra ``quality``).

DNSMOS (Reddy et al., ICASSP 2022) predicts the mean opinion scores listeners give in ITU-T
P.835 tests: SIG (the speech signal itself: distortion, roughness), BAK (how intrusive the
background and artefacts are) and OVRL (overall), each 1-5, plus an overall P.808 score from a
second model. Microsoft ships the ONNX models under MIT in the ``speechmos`` wheel; only the model
files are used here (its own module imports packages we do not need).

The protocol follows the models' training: 16 kHz audio, windows of 9.01 s stepped by 1 s (a
shorter clip is repeated until it fills one), SIG/BAK/OVRL from the raw samples mapped through
the published calibration polynomials, P.808 from a 120-band log-mel spectrogram; the clip's
score is the mean over windows.

DNSMOS was trained on noisy and processed real speech, not on TTS: read it as "does this sound
like clean speech", a guard against artefacts (buzz, hiss, clipping), not as naturalness of
prosody. On RAVDESS (studio speech) OVRL is about 2.8-3.3.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ._extras import require

__all__ = ["SpeechQuality", "QualityEstimator"]

_WHAT = "Speech quality (DNSMOS)"
_EXTRA = "quality"
RATE_HZ = 16_000
_WINDOW = int(9.01 * RATE_HZ)
_HOP = RATE_HZ
# The calibration from raw network outputs (SIG, BAK, OVRL, in that order) to P.835 scores,
# as published with the models.
_CALIBRATION = {
    "signal": (-0.08397278, 1.22083953, 0.0052439),
    "background": (-0.13166888, 1.60915514, -0.39604546),
    "overall": (-0.06766283, 1.11546468, 0.04602535),
}


@dataclass(frozen=True)
class SpeechQuality:
    """Predicted mean opinion scores, 1 (bad) to 5 (excellent)."""

    overall: float  # P.835 OVRL
    signal: float  # P.835 SIG
    background: float  # P.835 BAK
    p808: float  # P.808 overall

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


def _model_dir() -> Path:
    require("speechmos", what=_WHAT, extra=_EXTRA)
    spec = importlib.util.find_spec("speechmos")
    folder = Path(next(iter(spec.submodule_search_locations))) / "dnsmos_models"
    if not (folder / "sig_bak_ovr.onnx").is_file() or not (folder / "model_v8.onnx").is_file():
        raise ModelError(f"{folder}: the DNSMOS models are missing; reinstall emosynth[{_EXTRA}]")
    return folder


class QualityEstimator:
    """DNSMOS scores of 16 kHz clips. Raises :class:`~emosynth.errors.MissingExtraError` on
    construction when the extra is not installed; the models load on first use."""

    def __init__(self) -> None:
        self._folder = _model_dir()
        self._librosa = require("librosa", what=_WHAT, extra=_EXTRA)
        self._sessions = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._sessions is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # small models; callers run clips in parallel if they wish
                options.inter_op_num_threads = 1
                self._sessions = tuple(
                    ort.InferenceSession(str(self._folder / name), options, providers=["CPUExecutionProvider"])
                    for name in ("sig_bak_ovr.onnx", "model_v8.onnx"))
        return self._sessions

    def _log_mel(self, window: np.ndarray) -> np.ndarray:
        """The P.808 model's input: 120 mel bands, 20 ms frames every 10 ms, dB scaled to about [0, 1]."""
        lb = self._librosa
        mel = lb.feature.melspectrogram(y=window, sr=RATE_HZ, n_fft=321, hop_length=160, n_mels=120)
        return ((lb.power_to_db(mel, ref=np.max) + 40.0) / 40.0).T.astype(np.float32)

    def score(self, samples_16k: np.ndarray) -> SpeechQuality:
        """Scores of a mono 16 kHz clip (at least 0.1 s, samples within [-1, 1])."""
        x = np.asarray(samples_16k, dtype=np.float32)
        if x.ndim != 1 or len(x) < RATE_HZ // 10:
            raise ValueError(f"speech quality needs a mono clip of at least 0.1 s, got shape {x.shape}")
        x = np.clip(x, -1.0, 1.0)
        while len(x) < _WINDOW:  # doubled, as the reference does, so scores compare with published ones
            x = np.concatenate([x, x])
        p835, p808 = self._load()
        raw, mos808 = [], []
        n_windows = int(np.floor(len(x) / RATE_HZ) - _WINDOW / RATE_HZ) + 1  # the reference's count: each fits
        for start in range(0, n_windows * _HOP, _HOP):
            window = x[start:start + _WINDOW]
            raw.append(p835.run(None, {"input_1": window[None, :]})[0][0])
            mos808.append(float(p808.run(None, {"input_1": self._log_mel(window[:-160])[None]})[0][0][0]))
        raw = np.array(raw)  # (windows, 3): SIG, BAK, OVRL before calibration, which applies per window
        scores = {name: float(np.mean(np.polyval(coefs, raw[:, i])))
                  for i, (name, coefs) in enumerate(_CALIBRATION.items())}
        return SpeechQuality(p808=float(np.mean(mos808)), **scores)
