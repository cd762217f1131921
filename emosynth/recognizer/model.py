"""The recognizer's weights: feature scaling, optional per-speaker normalisation, and a
multinomial logistic regression over the seven primaries. Inference is plain numpy.

Two classifiers ship in one file:

* ``plain``: reads features as they are; used for a clip of a speaker we know nothing about.
* ``speaker``: reads features relative to the speaker's own neutral speech,
  ``(x - mean_ref) / sd_ref``, where the reference statistics come from neutral recordings of
  the same speaker (or voice). ``sd_ref`` is shrunk towards the pooled within-speaker deviation
  of the training corpus as if that held ``SHRINKAGE_CLIPS`` more clips, so one reference clip
  is already usable and many approach the speaker's own spread.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from ..errors import ModelError
from ..io import atomic_path
from .features import FEATURE_SETS, feature_version, n_features

__all__ = ["LinearClassifier", "SpeakerReference", "RecognizerWeights", "SHRINKAGE_CLIPS"]

#: Prior weight, in clips, of the corpus-wide spread when estimating a speaker's spread.
SHRINKAGE_CLIPS = 20.0
_FORMAT_VERSION = 2


@dataclass(frozen=True)
class LinearClassifier:
    """Standardise, then softmax(W z + b). Shapes: mean/scale (F,), weights (7, F), bias (7,)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, 7), for features of shape (n, F)."""
        z = (np.atleast_2d(features) - self.mean) / self.scale
        logits = z @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class SpeakerReference:
    """Feature statistics of one speaker's neutral speech: mean and spread, shape (F,)."""

    mean: np.ndarray
    sd: np.ndarray
    n_clips: int

    @classmethod
    def from_features(cls, features: np.ndarray, pooled_sd: np.ndarray) -> "SpeakerReference":
        """Statistics of ``features`` (n, F), the spread shrunk towards ``pooled_sd``."""
        x = np.atleast_2d(features)
        n = x.shape[0]
        var = x.var(axis=0) if n > 1 else np.zeros(x.shape[1])
        sd = np.sqrt((n * var + SHRINKAGE_CLIPS * pooled_sd**2) / (n + SHRINKAGE_CLIPS))
        return cls(mean=x.mean(axis=0), sd=sd, n_clips=n)

    def normalise(self, features: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(features) - self.mean) / self.sd


@dataclass(frozen=True)
class RecognizerWeights:
    """Everything a trained recognizer is: both classifiers, the corpus spread, and its record."""

    plain: LinearClassifier
    speaker: LinearClassifier
    pooled_sd: np.ndarray  # (F,) within-speaker spread of the training corpus
    feature_set: str  # the encoders whose features the classifiers read (features.FEATURE_SETS)
    info: dict = field(default_factory=dict)  # training record: corpus, seed, C, metrics

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the weights as one ``.npz`` file, atomically."""
        arrays = {"pooled_sd": self.pooled_sd}
        for name in ("plain", "speaker"):
            for key, value in asdict(getattr(self, name)).items():
                arrays[f"{name}_{key}"] = value
        meta = {"format_version": _FORMAT_VERSION, "feature_set": self.feature_set,
                "feature_version": feature_version(self.feature_set), "emotions": list(PRIMARY_EMOTIONS),
                "info": self.info}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "RecognizerWeights":
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: data[k].astype(np.float64) for k in data.files if k != "meta"}
        except FileNotFoundError:
            raise ModelError(f"{p}: no such recognizer weights file") from None
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{p}: not a recognizer weights file ({exc})") from None
        feature_set = meta.get("feature_set")
        if (feature_set not in FEATURE_SETS or meta.get("feature_version") != feature_version(feature_set)
                or meta.get("emotions") != list(PRIMARY_EMOTIONS)):
            raise ModelError(
                f"{p}: trained for features {meta.get('feature_version')!r} and emotions "
                f"{meta.get('emotions')}; this emosynth reads the feature sets {list(FEATURE_SETS)} "
                f"({', '.join(feature_version(f) for f in FEATURE_SETS)}) and {list(PRIMARY_EMOTIONS)}: "
                "retrain with `emosynth train-ser`"
            )
        try:
            classifiers = {
                name: LinearClassifier(**{k: arrays[f"{name}_{k}"] for k in ("mean", "scale", "weights", "bias")})
                for name in ("plain", "speaker")
            }
        except KeyError as exc:
            raise ModelError(f"{p}: recognizer weights file lacks {exc}") from None
        expected = (len(PRIMARY_EMOTIONS), n_features(feature_set))
        if any(c.weights.shape != expected for c in classifiers.values()):
            raise ModelError(f"{p}: weights have shape {classifiers['plain'].weights.shape}, expected {expected}")
        return cls(pooled_sd=arrays["pooled_sd"], feature_set=feature_set, info=meta.get("info", {}), **classifiers)
