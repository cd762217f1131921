"""Training and speaker-independent cross-validation of the recognizer, over one or more corpora.

Folds are drawn by speaker, never by clip, and dealt corpus by corpus so every fold holds speakers
of every corpus: every clip of a speaker, and every perturbed copy of it, is in one fold. The
regularisation strength is chosen by an inner speaker-grouped cross-validation inside each outer
training fold, so the reported held-out figures never saw the data they are measured on.
Perturbed copies (:mod:`.channel`) only ever join the training side; every figure is measured on
the untouched human recordings.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from ..errors import CorpusError
from .channel import DEFAULT_COPIES, SPEAKER
from .corpus import LabelledClip, read_corpora
from .dataset import CorpusFeatures, extract_corpus_features
from .features import DEFAULT_FEATURE_SET
from .logistic import balanced_weights, fit_masked_logistic
from .model import LinearClassifier, RecognizerWeights, SpeakerReference

__all__ = [
    "C_GRID",
    "CrossValidation",
    "HeldOut",
    "ModeResult",
    "TrainingResult",
    "cross_corpus",
    "cross_validate",
    "fit_on_speakers",
    "fit_weights",
    "held_out",
    "train_recognizer",
]

#: Inverse L2 strengths tried by the inner cross-validation.
C_GRID = (0.003, 0.01, 0.03, 0.1)
_N_INNER_FOLDS = 3
_ABSENT_CLASS_BIAS = -50.0  # a class no training corpus labels gets ~0 probability
_MODES = ("plain", "speaker")
_K = len(PRIMARY_EMOTIONS)


# -- speaker normalisation -----------------------------------------------------------------
def pooled_within_speaker_sd(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Square root of the mean per-speaker feature variance, shape (F,)."""
    variances = [features[speakers == s].var(axis=0) for s in np.unique(speakers)]
    return np.sqrt(np.mean(variances, axis=0)) + 1e-8


def speaker_normalise(corpus: CorpusFeatures, rows: np.ndarray, pooled_sd: np.ndarray) -> np.ndarray:
    """Features of ``rows`` relative to their speaker's neutral clips heard through the same
    channel (a voice is read against its own neutral, which comes through its own channel); a
    neutral clip is read against the speaker's *other* neutral clips, as a new clip would be.
    Rows with no such reference come back as NaN."""
    out = np.full((len(rows), corpus.features.shape[1]), np.nan)
    keys = np.char.add(np.char.add(corpus.speakers.astype(str), "\x00"), corpus.channels.astype(str))
    for key in np.unique(keys[rows]):
        neutral = np.flatnonzero((keys == key) & corpus.is_neutral)
        for j in np.flatnonzero(keys[rows] == key):
            ref_rows = neutral[neutral != rows[j]]
            if len(ref_rows):
                ref = SpeakerReference.from_features(corpus.features[ref_rows], pooled_sd)
                out[j] = ref.normalise(corpus.features[rows[j]])[0]
    return out


def _same_speaker_rows(corpus: CorpusFeatures, rows: np.ndarray) -> np.ndarray:
    """``rows`` without the copies that move the speaker (each moves its clip by its own factor, so
    they are no longer the speaker a reference stands for)."""
    return rows[corpus.channels[rows] != SPEAKER]


def _pooled_sd(corpus: CorpusFeatures, rows: np.ndarray) -> np.ndarray:
    """The within-speaker spread of ``rows`` that references are shrunk towards."""
    rows = _same_speaker_rows(corpus, rows)
    return pooled_within_speaker_sd(corpus.features[rows], corpus.speakers[rows])


@dataclass(frozen=True)
class _Design:
    x: np.ndarray
    y: np.ndarray
    corpora: np.ndarray


def _design(corpus: CorpusFeatures, rows: np.ndarray, mode: str, pooled_sd: np.ndarray) -> _Design:
    """The rows as a classifier mode reads them, dropping rows without a reference. Copies with the
    speaker moved train the plain classifier only: read against a reference, the speaker is known."""
    if mode != "plain":
        rows = _same_speaker_rows(corpus, rows)
    x = corpus.features[rows] if mode == "plain" else speaker_normalise(corpus, rows, pooled_sd)
    ok = ~np.isnan(x).any(axis=1)
    return _Design(x[ok], corpus.emotions[rows][ok], corpus.corpora[rows][ok])


# -- classifier ----------------------------------------------------------------------------
def _fit_path(d: _Design, cs: Sequence[float]) -> list[LinearClassifier]:
    """Standardise, then a softmax regression over the classes the training corpora label, classes
    and corpora balanced; one classifier per C in ``cs`` (ascending), each fit starting from the
    previous one's solution.

    Every row's softmax runs over all those classes, even a class its own corpus lacks (nEMO has
    no disgust). Letting each corpus compete only among its own labels was tried: held-out Polish
    speech was then heard as disgust in a third to half of its clips, since nothing constrains the
    disgust score where only Polish speech lies (docs/recognizer.md, "A class a corpus lacks").
    """
    mean, scale = d.x.mean(axis=0), d.x.std(axis=0) + 1e-8
    allowed = np.zeros((len(d.y), _K), dtype=bool)
    allowed[:, np.unique(d.y)] = True
    z, weights_of_rows = (d.x - mean) / scale, balanced_weights(d.y, d.corpora)
    out, previous = [], None
    for c in cs:
        weights, bias = fit_masked_logistic(z, d.y, allowed, weights_of_rows, c, _K, init=previous)
        previous = (weights, bias)
        bias = np.where(allowed[0], bias, _ABSENT_CLASS_BIAS)
        out.append(LinearClassifier(mean=mean, scale=scale, weights=weights, bias=bias))
    return out


def _fit_classifier(d: _Design, c: float) -> LinearClassifier:
    return _fit_path(d, [c])[0]


def _recalls(y: np.ndarray, pred: np.ndarray) -> dict[int, float]:
    return {int(k): float(np.mean(pred[y == k] == k)) for k in np.unique(y)}


def _unweighted_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y``; predictions range over all seven."""
    return float(np.mean(list(_recalls(y, pred).values())))


def _confusion(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    confusion = np.zeros((_K, _K), dtype=int)
    np.add.at(confusion, (y, pred), 1)
    return confusion


def _ua_of(confusion: np.ndarray) -> float:
    present = confusion.sum(axis=1) > 0
    return float(np.mean(np.diag(confusion)[present] / confusion.sum(axis=1)[present]))


# -- folds ---------------------------------------------------------------------------------
def _speaker_folds(speakers: np.ndarray, corpora: np.ndarray, n_folds: int, seed: int) -> list[list[str]]:
    """Speakers dealt into ``n_folds`` folds, each corpus in its own seeded order, so the folds
    share every corpus as evenly as its number of speakers allows."""
    unique = sorted(set(speakers.tolist()))
    if len(unique) < n_folds:
        raise CorpusError(f"{n_folds} speaker-independent folds need at least {n_folds} speakers; "
                          f"the corpus has {len(unique)}")
    corpus_of = {s: str(c) for s, c in zip(speakers.tolist(), corpora.tolist())}
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    start = 0
    rng = np.random.default_rng(seed)
    for corpus in sorted(set(corpus_of.values())):
        members = [s for s in unique if corpus_of[s] == corpus]
        for j, i in enumerate(rng.permutation(len(members))):
            folds[(start + j) % n_folds].append(members[i])
        start += len(members)  # the next corpus starts where this one stopped, evening fold sizes
    return [sorted(f) for f in folds]


def _choose_c(corpus: CorpusFeatures, rows: np.ndarray, mode: str, seed: int) -> float:
    """The C of C_GRID with the best inner speaker-grouped UA over ``rows`` (tested on clean rows)."""
    speakers = corpus.speakers[rows]
    inner = _speaker_folds(speakers, corpus.corpora[rows], min(_N_INNER_FOLDS, len(set(speakers.tolist()))), seed)
    uas = np.zeros((len(inner), len(C_GRID)))
    for i, held in enumerate(inner):
        test = np.isin(speakers, held)
        train_rows, test_rows = rows[~test], rows[test & corpus.is_clean[rows]]
        pooled = _pooled_sd(corpus, train_rows)
        train, probe = _design(corpus, train_rows, mode, pooled), _design(corpus, test_rows, mode, pooled)
        for j, clf in enumerate(_fit_path(train, C_GRID)):
            pred = clf.probabilities(probe.x).argmax(axis=1)
            # Each corpus counts equally, whatever its size.
            uas[i, j] = np.mean([_unweighted_accuracy(probe.y[probe.corpora == k], pred[probe.corpora == k])
                                 for k in np.unique(probe.corpora)])
    return C_GRID[int(np.argmax(uas.mean(axis=0)))]


@dataclass(frozen=True)
class HeldOut:
    """One held-out evaluation: predictions on the clean test rows and the C chosen."""

    rows: np.ndarray  # corpus rows tested (clean recordings with a usable reference)
    y: np.ndarray
    pred: np.ndarray
    c: float

    @property
    def ua(self) -> float:
        return _unweighted_accuracy(self.y, self.pred)

    @property
    def confusion(self) -> np.ndarray:
        return _confusion(self.y, self.pred)


def held_out(corpus: CorpusFeatures, train_rows: np.ndarray, test_rows: np.ndarray, *, mode: str,
             seed: int = 0) -> HeldOut:
    """Fit on ``train_rows`` (C by inner speaker-grouped CV over them only) and test on the clean
    recordings among ``test_rows``, whose speakers must not be among the training rows'."""
    c = _choose_c(corpus, train_rows, mode, seed)
    pooled = _pooled_sd(corpus, train_rows)
    clf = _fit_classifier(_design(corpus, train_rows, mode, pooled), c)
    test_rows = test_rows[corpus.is_clean[test_rows]]
    x = corpus.features[test_rows] if mode == "plain" else speaker_normalise(corpus, test_rows, pooled)
    ok = ~np.isnan(x).any(axis=1)
    return HeldOut(rows=test_rows[ok], y=corpus.emotions[test_rows][ok],
                   pred=clf.probabilities(x[ok]).argmax(axis=1), c=c)


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModeResult:
    """Held-out results of one classifier mode over all outer folds, overall and per corpus."""

    ua: float  # mean of the corpora's UAs: each corpus counts once
    wa: float
    confusion: list[list[int]]  # rows true, columns predicted, PRIMARY_EMOTIONS order
    fold_ua: list[float]
    fold_c: list[float]
    by_corpus: dict[str, dict] = field(default_factory=dict)  # corpus -> ua, wa, confusion

    def to_dict(self) -> dict:
        return {"ua": round(self.ua, 4), "wa": round(self.wa, 4), "confusion": self.confusion,
                "fold_ua": [round(u, 4) for u in self.fold_ua], "fold_c": self.fold_c,
                "by_corpus": self.by_corpus}


def _mode_result(corpus: CorpusFeatures, folds: Sequence[HeldOut]) -> ModeResult:
    rows = np.concatenate([f.rows for f in folds])
    y, pred = np.concatenate([f.y for f in folds]), np.concatenate([f.pred for f in folds])
    by_corpus = {}
    for k in sorted(set(corpus.corpora[rows].tolist())):
        m = corpus.corpora[rows] == k
        conf = _confusion(y[m], pred[m])
        by_corpus[k] = {"ua": round(_ua_of(conf), 4), "wa": round(float(np.trace(conf) / conf.sum()), 4),
                        "n_clips": int(m.sum()), "confusion": conf.tolist()}
    confusion = _confusion(y, pred)
    return ModeResult(ua=float(np.mean([v["ua"] for v in by_corpus.values()])),
                      wa=float(np.trace(confusion) / confusion.sum()), confusion=confusion.tolist(),
                      fold_ua=[f.ua for f in folds], fold_c=[f.c for f in folds], by_corpus=by_corpus)


@dataclass(frozen=True)
class CrossValidation:
    folds: list[list[str]]  # held-out speakers of each fold
    results: dict[str, ModeResult]  # by mode: "plain", "speaker"

    def to_dict(self) -> dict:
        return {"protocol": f"{len(self.folds)}-fold leave-speakers-out (speakers of every corpus in every "
                            f"fold), C by inner {_N_INNER_FOLDS}-fold speaker-grouped CV over {list(C_GRID)}; "
                            "tested on the clean recordings only",
                "labels": list(PRIMARY_EMOTIONS), "folds": self.folds,
                **{m: r.to_dict() for m, r in self.results.items()}}


def cross_validate(
    corpus: CorpusFeatures, *, n_folds: int = 5, seed: int = 0, modes: Sequence[str] = _MODES,
    progress: Callable[[], None] | None = None,
) -> CrossValidation:
    """Leave-speakers-out cross-validation of the classifier modes."""
    folds = _speaker_folds(corpus.speakers, corpus.corpora, n_folds, seed)
    results = {}
    for mode in modes:
        outcomes = []
        for held in folds:
            test = np.isin(corpus.speakers, held)
            outcomes.append(held_out(corpus, np.flatnonzero(~test), np.flatnonzero(test), mode=mode, seed=seed))
            if progress:
                progress()
        results[mode] = _mode_result(corpus, outcomes)
    return CrossValidation(folds=folds, results=results)


def cross_corpus(corpus: CorpusFeatures, *, seed: int = 0, modes: Sequence[str] = _MODES) -> dict:
    """Train on each corpus alone and test on each other one: how far the instrument transfers.

    Returns ``{"ravdess->nemo": {mode: {"ua", "wa", "confusion"}}, ...}``.
    """
    out = {}
    names = sorted(set(corpus.corpora.tolist()))
    for src in names:
        for dst in names:
            if src == dst:
                continue
            train, test = np.flatnonzero(corpus.corpora == src), np.flatnonzero(corpus.corpora == dst)
            res = {}
            for mode in modes:
                h = held_out(corpus, train, test, mode=mode, seed=seed)
                conf = h.confusion
                res[mode] = {"ua": round(_ua_of(conf), 4), "wa": round(float(np.trace(conf) / conf.sum()), 4),
                             "confusion": conf.tolist(), "c": h.c}
            out[f"{src}->{dst}"] = res
    return out


# -- fitting -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingResult:
    weights: RecognizerWeights
    cross_validation: CrossValidation | None
    corpus: CorpusFeatures = field(repr=False)


def fit_weights(corpus: CorpusFeatures, *, feature_set: str, seed: int = 0, info: dict | None = None) -> RecognizerWeights:
    """Fit both classifiers on the whole table, each with its C chosen by grouped CV."""
    rows = np.arange(len(corpus.emotions))
    pooled = _pooled_sd(corpus, rows)
    chosen = {mode: _choose_c(corpus, rows, mode, seed) for mode in _MODES}
    classifiers = {mode: _fit_classifier(_design(corpus, rows, mode, pooled), chosen[mode]) for mode in _MODES}
    return RecognizerWeights(pooled_sd=pooled, feature_set=feature_set, info={**(info or {}), "c": chosen},
                             **classifiers)


def fit_on_speakers(clips: Sequence[LabelledClip], speakers: Collection[str], *, seed: int = 0, note: str = "",
                    progress: bool = False, feature_set: str = DEFAULT_FEATURE_SET) -> RecognizerWeights:
    """The shipped recipe (perturbed copies, C by grouped CV; the shipped feature set unless told)
    fitted on the clips of ``speakers`` only, recording them as ``training_speakers``: a
    recognizer that has never heard the other speakers, to judge what was learned from them."""
    kept = [c for c in clips if c.speaker in speakers]
    if not kept:
        raise CorpusError(f"none of the clips is by the speakers {sorted(speakers)[:6]}...")
    corpus = extract_corpus_features(kept, feature_set=feature_set, copies=DEFAULT_COPIES, seed=seed,
                                     progress=progress)
    trained = sorted(set(corpus.speakers.tolist()))
    info = {"note": note, "n_clips": int(corpus.is_clean.sum()), "n_speakers": len(trained),
            "training_speakers": trained}
    return fit_weights(corpus, feature_set=feature_set, seed=seed, info=info)


def train_recognizer(
    data_dirs: Sequence[str | os.PathLike[str]],
    *,
    feature_set: str = DEFAULT_FEATURE_SET,
    copies: int = DEFAULT_COPIES,
    n_folds: int = 5,
    seed: int = 0,
    workers: int | None = None,
    cross_validation: bool = True,
    progress: bool = False,
) -> TrainingResult:
    """Read the corpora, cross-validate (optional), and fit the weights on all of them."""
    from pathlib import Path

    from tqdm import tqdm

    clips = read_corpora(data_dirs)
    corpus = extract_corpus_features(clips, feature_set=feature_set, copies=copies, seed=seed, workers=workers,
                                     progress=progress)
    cv = None
    if cross_validation:
        with tqdm(total=n_folds * len(_MODES), desc="cross-validation", unit="fold", disable=not progress) as bar:
            cv = cross_validate(corpus, n_folds=n_folds, seed=seed, progress=bar.update)
    clean = corpus.is_clean
    info = {
        "corpus": "+".join(Path(d).name for d in data_dirs),
        "corpora": {str(k): int(np.sum(clean & (corpus.corpora == k))) for k in np.unique(corpus.corpora)},
        "n_clips": int(clean.sum()),
        "n_copies": int((~clean).sum()),
        "n_speakers": len(set(corpus.speakers.tolist())),
        "clips_per_emotion": {e: int(np.sum(clean & (corpus.emotions == i))) for i, e in enumerate(PRIMARY_EMOTIONS)},
        "classes_by_corpus": {k: [e for e, m in zip(PRIMARY_EMOTIONS, mask) if m]
                              for k, mask in corpus.corpus_classes().items()},
        "feature_set": feature_set,
        "copies": copies,
        "seed": seed,
        "skipped": list(corpus.skipped),
        "cross_validation": cv.to_dict() if cv else None,
    }
    return TrainingResult(weights=fit_weights(corpus, feature_set=feature_set, seed=seed, info=info),
                          cross_validation=cv, corpus=corpus)
