"""Metrics for judging synthetic emotional speech; pure numpy/scipy, no models.

* Emotion accuracy: unweighted accuracy (UA, mean per-class recall, the usual headline for
  speech-emotion recognition because classes are rarely balanced), weighted accuracy (WA, plain
  accuracy) and the confusion matrix.
* Intensity control: Spearman's rho between requested intensity and the target's probability.
* Dimensional agreement: Pearson's r.
* Intelligibility: word error rate by word-level Levenshtein distance on normalised text.
* Sameness of two renderings of one utterance: log-mel distance in nats.

Every correlation returns ``nan`` rather than raising when it is undefined (fewer than three
points, or a constant input), so a report can show "not enough data" instead of failing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import spearmanr

__all__ = [
    "EmotionAccuracy",
    "confusion_matrix",
    "intensity_monotonicity",
    "json_float",
    "log_mel_distance",
    "normalise_text",
    "pearson",
    "unweighted_accuracy",
    "weighted_accuracy",
    "word_error_rate",
]

#: Correlations over fewer points than this are reported as nan.
MIN_CORRELATION_POINTS = 3


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts of shape (k, k), k = len(labels): row = true label, column = predicted label.

    Raises ``ValueError`` when the sequences differ in length or hold a label not in ``labels``.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({y for y in (*y_true, *y_pred) if y not in index})
    if unknown:
        raise ValueError(f"labels {unknown} are not among {list(labels)}")
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        counts[index[t], index[p]] += 1
    return counts


def _recalls(confusion: np.ndarray) -> np.ndarray:
    """Per-class recall, shape (k,); nan for classes with no true examples."""
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / support, np.nan)


def unweighted_accuracy(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> float:
    """Mean per-class recall over the classes present in ``y_true``; nan when it is empty."""
    recalls = _recalls(confusion_matrix(y_true, y_pred, labels))
    return float(np.nanmean(recalls)) if np.isfinite(recalls).any() else math.nan


def weighted_accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Share of predictions equal to the truth (plain accuracy); nan when empty."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if not y_true:
        return math.nan
    return sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true)


def _finite_pairs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray] | None:
    """The pairs where both are finite, or None when a correlation of them is undefined."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-d sequences of one length, got shapes {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < MIN_CORRELATION_POINTS or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return a, b


def intensity_monotonicity(intensities: Sequence[float], target_probabilities: Sequence[float]) -> float:
    """Spearman's rho between requested intensities and the target emotion's probabilities.

    Both of shape (n,). +1: the target is read ever more surely as intensity rises; nan with
    fewer than three finite pairs or a constant input.
    """
    pairs = _finite_pairs(intensities, target_probabilities)
    if pairs is None:
        return math.nan
    return float(spearmanr(*pairs).statistic)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r of two sequences of shape (n,); nan with fewer than three finite pairs or a
    constant input."""
    pairs = _finite_pairs(x, y)
    if pairs is None:
        return math.nan
    a, b = pairs[0] - pairs[0].mean(), pairs[1] - pairs[1].mean()
    return float(np.clip(a @ b / math.sqrt((a @ a) * (b @ b)), -1.0, 1.0))


# -- word error rate ---------------------------------------------------------------------------
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> str:
    """English words for 0 <= n <= 99, space-separated ("twenty one", as hyphens become spaces)."""
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] if ones == 0 else f"{_TENS[tens]} {_ONES[ones]}"


_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")
_SMALL_NUMBER = re.compile(r"\b\d{1,2}\b")
_NOT_WORD = re.compile(r"[^\w']+")  # punctuation and spaces; apostrophes survive this step
_EDGE_APOSTROPHES = re.compile(r"(?<!\w)'+|'+(?!\w)")


def normalise_text(text: str) -> str:
    """Lower-case words separated by single spaces, for comparing transcripts.

    Punctuation goes (hyphens and slashes split words), apostrophes inside words stay
    ("don't"), typographic apostrophes become ASCII, and whole numbers 0-99 are spelt out
    ("5" -> "five", "21" -> "twenty one"); larger numbers stay as digits.
    """
    s = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    s = _THOUSANDS_COMMA.sub("", s)
    s = _SMALL_NUMBER.sub(lambda m: f" {_number_words(int(m.group()))} ", s)
    s = _NOT_WORD.sub(" ", s.replace("_", " "))
    s = _EDGE_APOSTROPHES.sub(" ", s)
    return " ".join(s.split())


def _edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Fewest substitutions, deletions and insertions turning ``reference`` into ``hypothesis``."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(
                previous[j] + 1,  # reference word deleted
                current[j - 1] + 1,  # hypothesis word inserted
                previous[j - 1] + (ref_word != hyp_word),  # match or substitution
            ))
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word errors, reference words) after :func:`normalise_text`.

    The rate of one clip is ``errors / words``; a corpus rate is the sum of errors over the sum
    of words, so long clips weigh more (the standard way). An empty reference gives
    ``(len(hypothesis words), 0)``.
    """
    ref, hyp = normalise_text(reference).split(), normalise_text(hypothesis).split()
    return _edit_distance(ref, hyp), len(ref)


# -- accuracy record -------------------------------------------------------------------------
@dataclass(frozen=True)
class EmotionAccuracy:
    """How often the recognizer read the intended emotion.

    ``confusion`` has shape (k, k) for the k ``labels``: row = target, column = predicted.
    ``ua`` averages recall over the classes present among the targets only.
    """

    ua: float
    wa: float
    confusion: np.ndarray
    labels: tuple[str, ...]
    n: int

    @classmethod
    def from_labels(cls, y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> "EmotionAccuracy":
        return cls(
            ua=unweighted_accuracy(y_true, y_pred, labels),
            wa=weighted_accuracy(y_true, y_pred),
            confusion=confusion_matrix(y_true, y_pred, labels),
            labels=tuple(labels),
            n=len(y_true),
        )

    @property
    def classes_present(self) -> tuple[str, ...]:
        """The labels that occur among the targets: the classes UA averages over."""
        return tuple(lab for lab, row in zip(self.labels, self.confusion) if row.sum() > 0)

    def recall(self) -> dict[str, float]:
        """Recall of every label; nan for a label that is never a target."""
        return dict(zip(self.labels, (float(r) for r in _recalls(self.confusion))))

    def to_dict(self) -> dict:
        return {
            "ua": json_float(self.ua),
            "wa": json_float(self.wa),
            "n": self.n,
            "labels": list(self.labels),
            "classes_present": list(self.classes_present),
            "recall": {k: json_float(v) for k, v in self.recall().items()},
            "confusion": np.asarray(self.confusion).astype(int).tolist(),
        }


def json_float(x: float | None, digits: int = 4) -> float | None:
    """``x`` rounded, or None for nan/inf/None (JSON has no nan)."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def log_mel_distance(a: np.ndarray, b: np.ndarray, *, sample_rate_hz: int) -> float:
    """Mean |difference| (nats) between two equally long clips' log-mel magnitude spectra.

    80 mel bands (0 Hz to Nyquist), 1024-sample Hann frames every 256 samples, ``log(max(mel,
    1e-5))`` as in HiFi-GAN; 0 for identical clips. Made to compare two renderings of the same
    utterance (e.g. Kokoro's int8 and float decoders), where noise in pauses counts too.
    """
    x, y = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (a, b))
    if x.shape != y.shape or x.size < _MEL_FFT:
        raise ValueError(f"need two clips of one length, at least {_MEL_FFT} samples; got {x.size} and {y.size}")
    bank = _mel_bank(int(sample_rate_hz))
    x_mel, y_mel = (np.log(np.maximum(_magnitudes(v) @ bank.T, 1e-5)) for v in (x, y))
    return float(np.mean(np.abs(x_mel - y_mel)))


_MEL_FFT, _MEL_HOP, _MEL_BANDS = 1024, 256, 80


def _magnitudes(x: np.ndarray) -> np.ndarray:
    """(frames, 513) STFT magnitudes."""
    frames = np.lib.stride_tricks.sliding_window_view(x, _MEL_FFT)[::_MEL_HOP]
    return np.abs(np.fft.rfft(frames * np.hanning(_MEL_FFT), axis=1))


@lru_cache(maxsize=4)
def _mel_bank(sample_rate_hz: int) -> np.ndarray:
    """(80, 513) triangular filters evenly spaced on the HTK mel scale."""
    edges_mel = np.linspace(0.0, 2595.0 * np.log10(1.0 + sample_rate_hz / 2 / 700.0), _MEL_BANDS + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.arange(_MEL_FFT // 2 + 1) * sample_rate_hz / _MEL_FFT
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
