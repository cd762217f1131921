"""Training and speaker-independent cross-validation of the recognizer.

Folds are drawn by speaker, never by clip: every clip of a speaker is in the same fold. The
regularisation strength is chosen by an inner speaker-grouped cross-validation inside each
outer training fold, so the reported held-out figures never saw the data they are measured on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import load_audio
from ..emotions import PRIMARY_EMOTIONS
from ..errors import CorpusError
from .corpus import LabelledClip, read_corpus
from .features import FEATURE_SAMPLE_RATE_HZ, FEATURE_VERSION, ClipFeatureExtractor
from .model import LinearClassifier, RecognizerWeights, SpeakerReference

__all__ = [
    "CorpusFeatures",
    "CrossValidation",
    "ModeResult",
    "TrainingResult",
    "extract_corpus_features",
    "cross_validate",
    "held_out",
    "HeldOut",
    "fit_weights",
    "train_recognizer",
    "C_GRID",
]

#: Inverse L2 strengths tried by the inner cross-validation.
C_GRID = (0.003, 0.01, 0.03, 0.1)
_N_INNER_FOLDS = 3
_ABSENT_CLASS_BIAS = -50.0  # a class the corpus lacks (CREMA-D has no surprise) gets ~0 probability
_MODES = ("plain", "speaker")


@dataclass(frozen=True)
class CorpusFeatures:
    """Features of a corpus, shape (n, F), with the label and speaker of every row."""

    features: np.ndarray
    emotions: np.ndarray  # (n,) index into PRIMARY_EMOTIONS
    speakers: np.ndarray  # (n,) speaker ids
    paths: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # "path: reason" for clips that could not be read

    @property
    def is_neutral(self) -> np.ndarray:
        return self.emotions == PRIMARY_EMOTIONS.index("neutral")


@dataclass(frozen=True)
class ModeResult:
    """Held-out results of one classifier over all outer folds."""

    ua: float
    wa: float
    confusion: list[list[int]]  # rows true, columns predicted, PRIMARY_EMOTIONS order
    fold_ua: list[float]
    fold_c: list[float]

    def to_dict(self) -> dict:
        return {"ua": round(self.ua, 4), "wa": round(self.wa, 4), "confusion": self.confusion,
                "fold_ua": [round(u, 4) for u in self.fold_ua], "fold_c": self.fold_c}


@dataclass(frozen=True)
class CrossValidation:
    folds: list[list[str]]  # held-out speakers of each fold
    results: dict[str, ModeResult]  # by mode: "plain", "speaker"

    def to_dict(self) -> dict:
        return {"protocol": f"{len(self.folds)}-fold leave-speakers-out, C by inner "
                            f"{_N_INNER_FOLDS}-fold speaker-grouped CV over {list(C_GRID)}",
                "labels": list(PRIMARY_EMOTIONS), "folds": self.folds,
                **{m: r.to_dict() for m, r in self.results.items()}}


@dataclass(frozen=True)
class TrainingResult:
    weights: RecognizerWeights
    cross_validation: CrossValidation | None
    corpus: CorpusFeatures = field(repr=False)


# -- features ------------------------------------------------------------------------------
def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "emosynth" / "features"


def _cache_key(path: Path) -> str:
    digest = hashlib.sha1(FEATURE_VERSION.encode())
    digest.update(path.read_bytes())
    return digest.hexdigest()


_worker_extractor: ClipFeatureExtractor | None = None


def _init_worker() -> None:
    global _worker_extractor
    _worker_extractor = ClipFeatureExtractor(threads=1)


def _features_of(path: str) -> np.ndarray | str:
    """Features of one file, or the reason it could not be read (run in a worker)."""
    from ..errors import EmosynthError

    try:
        return _worker_extractor(load_audio(path, target_rate_hz=FEATURE_SAMPLE_RATE_HZ))
    except EmosynthError as exc:
        return str(exc)


def extract_corpus_features(
    clips: Sequence[LabelledClip],
    *,
    workers: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> CorpusFeatures:
    """Features of every clip, computed in ``workers`` processes and cached by file content."""
    from tqdm import tqdm

    cache = cache_dir or _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    keys = [_cache_key(c.path) for c in clips]
    results: dict[int, np.ndarray | str] = {}
    todo = []
    for i, key in enumerate(keys):
        cached = cache / f"{key}.npy"
        if cached.exists():
            results[i] = np.load(cached)
        else:
            todo.append(i)
    bar = tqdm(total=len(clips), initial=len(clips) - len(todo), desc="features", unit="clip",
               disable=not progress)
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, initializer=_init_worker) as pool:
        for i, out in zip(todo, pool.map(_features_of, [str(clips[i].path) for i in todo], chunksize=4)):
            results[i] = out
            if isinstance(out, np.ndarray):
                np.save(cache / f"{keys[i]}.npy", out)
            bar.update()
    bar.close()
    good = [i for i in range(len(clips)) if isinstance(results[i], np.ndarray)]
    if not good:
        raise CorpusError("no clip of the corpus could be read")
    return CorpusFeatures(
        features=np.stack([results[i] for i in good]),
        emotions=np.array([PRIMARY_EMOTIONS.index(clips[i].emotion) for i in good]),
        speakers=np.array([clips[i].speaker for i in good]),
        paths=tuple(str(clips[i].path) for i in good),
        skipped=tuple(str(results[i]) for i in range(len(clips)) if i not in set(good)),
    )


# -- speaker normalisation -----------------------------------------------------------------
def pooled_within_speaker_sd(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Square root of the mean per-speaker feature variance, shape (F,)."""
    variances = [features[speakers == s].var(axis=0) for s in np.unique(speakers)]
    return np.sqrt(np.mean(variances, axis=0)) + 1e-8


def speaker_normalise(corpus: CorpusFeatures, rows: np.ndarray, pooled_sd: np.ndarray) -> np.ndarray:
    """Features of ``rows`` relative to their speaker's neutral clips; a neutral clip is read
    against the speaker's *other* neutral clips, as a new clip would be. Rows of a speaker
    with no neutral reference come back as NaN."""
    out = np.full((len(rows), corpus.features.shape[1]), np.nan)
    for s in np.unique(corpus.speakers[rows]):
        neutral = np.flatnonzero((corpus.speakers == s) & corpus.is_neutral)
        for j in np.flatnonzero(corpus.speakers[rows] == s):
            ref_rows = neutral[neutral != rows[j]]
            if len(ref_rows):
                ref = SpeakerReference.from_features(corpus.features[ref_rows], pooled_sd)
                out[j] = ref.normalise(corpus.features[rows[j]])[0]
    return out


def _design(corpus: CorpusFeatures, rows: np.ndarray, mode: str, pooled_sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of ``rows`` for a classifier mode, dropping rows without a reference."""
    x = corpus.features[rows] if mode == "plain" else speaker_normalise(corpus, rows, pooled_sd)
    ok = ~np.isnan(x).any(axis=1)
    return x[ok], corpus.emotions[rows][ok]


# -- classifier ----------------------------------------------------------------------------
def _fit_classifier(x: np.ndarray, y: np.ndarray, c: float) -> LinearClassifier:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-8
    lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    lr.fit((x - mean) / scale, y)
    k, f = len(PRIMARY_EMOTIONS), x.shape[1]
    weights, bias = np.zeros((k, f)), np.full(k, _ABSENT_CLASS_BIAS)
    weights[lr.classes_] = lr.coef_ if len(lr.classes_) > 2 else np.vstack([-lr.coef_, lr.coef_])
    bias[lr.classes_] = lr.intercept_ if len(lr.classes_) > 2 else [-lr.intercept_[0], lr.intercept_[0]]
    return LinearClassifier(mean=mean, scale=scale, weights=weights, bias=bias)


def _unweighted_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[y == k] == k) for k in np.unique(y)]))


def _speaker_folds(speakers: np.ndarray, n_folds: int, seed: int) -> list[list[str]]:
    unique = sorted(set(speakers.tolist()))
    if len(unique) < n_folds:
        raise CorpusError(f"{n_folds} speaker-independent folds need at least {n_folds} speakers; "
                          f"the corpus has {len(unique)}")
    order = np.random.default_rng(seed).permutation(len(unique))
    return [sorted(unique[i] for i in order[f::n_folds]) for f in range(n_folds)]


def _choose_c(corpus: CorpusFeatures, rows: np.ndarray, mode: str, seed: int) -> float:
    """The C of C_GRID with the best inner speaker-grouped UA over ``rows``."""
    inner = _speaker_folds(corpus.speakers[rows], min(_N_INNER_FOLDS, len(set(corpus.speakers[rows]))), seed)
    uas = np.zeros((len(inner), len(C_GRID)))
    for i, held in enumerate(inner):
        test = np.isin(corpus.speakers[rows], held)
        pooled = pooled_within_speaker_sd(corpus.features[rows[~test]], corpus.speakers[rows[~test]])
        train_xy, (x, y) = _design(corpus, rows[~test], mode, pooled), _design(corpus, rows[test], mode, pooled)
        for j, c in enumerate(C_GRID):
            uas[i, j] = _unweighted_accuracy(y, _fit_classifier(*train_xy, c).probabilities(x).argmax(axis=1))
    return C_GRID[int(np.argmax(uas.mean(axis=0)))]


@dataclass(frozen=True)
class HeldOut:
    """One held-out evaluation: UA on the test rows, their confusion and the C chosen."""

    ua: float
    confusion: np.ndarray  # (7, 7) true x predicted counts
    c: float


def held_out(corpus: CorpusFeatures, train_rows: np.ndarray, test_rows: np.ndarray, *, mode: str,
             seed: int = 0) -> HeldOut:
    """Fit on ``train_rows`` (C by inner speaker-grouped CV over them only) and test on ``test_rows``,
    whose speakers must not be among the training rows' for a speaker-independent figure."""
    c = _choose_c(corpus, train_rows, mode, seed)
    pooled = pooled_within_speaker_sd(corpus.features[train_rows], corpus.speakers[train_rows])
    clf = _fit_classifier(*_design(corpus, train_rows, mode, pooled), c)
    x, y = _design(corpus, test_rows, mode, pooled)
    pred = clf.probabilities(x).argmax(axis=1)
    k = len(PRIMARY_EMOTIONS)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (y, pred), 1)
    return HeldOut(ua=_unweighted_accuracy(y, pred), confusion=confusion, c=c)


def cross_validate(
    corpus: CorpusFeatures, *, n_folds: int = 5, seed: int = 0, progress: Callable[[], None] | None = None
) -> CrossValidation:
    """Leave-speakers-out cross-validation of both classifier modes."""
    folds = _speaker_folds(corpus.speakers, n_folds, seed)
    k = len(PRIMARY_EMOTIONS)
    results = {}
    for mode in _MODES:
        confusion = np.zeros((k, k), dtype=int)
        fold_ua, fold_c = [], []
        for held in folds:
            test = np.isin(corpus.speakers, held)
            fold = held_out(corpus, np.flatnonzero(~test), np.flatnonzero(test), mode=mode, seed=seed)
            confusion += fold.confusion
            fold_ua.append(fold.ua)
            fold_c.append(fold.c)
            if progress:
                progress()
        recalls = [confusion[i, i] / confusion[i].sum() for i in range(k) if confusion[i].sum()]
        results[mode] = ModeResult(ua=float(np.mean(recalls)), wa=float(np.trace(confusion) / confusion.sum()),
                                   confusion=confusion.tolist(), fold_ua=fold_ua, fold_c=fold_c)
    return CrossValidation(folds=folds, results=results)


def fit_weights(corpus: CorpusFeatures, *, seed: int = 0, info: dict | None = None) -> RecognizerWeights:
    """Fit both classifiers on the whole corpus, each with its C chosen by grouped CV."""
    rows = np.arange(len(corpus.emotions))
    pooled = pooled_within_speaker_sd(corpus.features, corpus.speakers)
    chosen = {mode: _choose_c(corpus, rows, mode, seed) for mode in _MODES}
    classifiers = {mode: _fit_classifier(*_design(corpus, rows, mode, pooled), chosen[mode]) for mode in _MODES}
    return RecognizerWeights(pooled_sd=pooled, info={**(info or {}), "c": chosen}, **classifiers)


def train_recognizer(
    data_dir: str | os.PathLike[str],
    *,
    n_folds: int = 5,
    seed: int = 0,
    workers: int | None = None,
    cross_validation: bool = True,
    progress: bool = False,
) -> TrainingResult:
    """Read a corpus, cross-validate (optional), and fit the weights on all of it."""
    from tqdm import tqdm

    clips = read_corpus(data_dir)
    corpus = extract_corpus_features(clips, workers=workers, progress=progress)
    cv = None
    if cross_validation:
        with tqdm(total=n_folds * len(_MODES), desc="cross-validation", unit="fold", disable=not progress) as bar:
            cv = cross_validate(corpus, n_folds=n_folds, seed=seed, progress=bar.update)
    counts = {e: int(np.sum(corpus.emotions == i)) for i, e in enumerate(PRIMARY_EMOTIONS)}
    info = {
        "corpus": str(Path(data_dir).name),
        "n_clips": len(corpus.emotions),
        "n_speakers": len(set(corpus.speakers.tolist())),
        "clips_per_emotion": counts,
        "seed": seed,
        "skipped": list(corpus.skipped),
        "cross_validation": cv.to_dict() if cv else None,
    }
    return TrainingResult(weights=fit_weights(corpus, seed=seed, info=info), cross_validation=cv, corpus=corpus)
