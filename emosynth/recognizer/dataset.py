"""The recognizer's training table: features of every corpus clip and of its perturbed copies.

Features are computed in worker processes and cached one file per clip, encoder and channel in
``$XDG_CACHE_HOME/emosynth/features/`` (``~/.cache`` when unset), keyed by the file's bytes, the
encoder's feature version and the channel's version and seed, so a changed file or a new feature
definition is never read from a stale cache, and a fusion of encoders reuses each encoder's cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import Audio, load_audio
from ..cpus import usable_cpus
from ..emotions import PRIMARY_EMOTIONS
from ..errors import CorpusError, EmosynthError
from ..io import atomic_path, cache_dir
from .channel import copy_version, perturb
from .corpus import LabelledClip
from .features import FEATURE_SAMPLE_RATE_HZ, ClipFeatureExtractor, encoder_version, feature_encoders

__all__ = ["CLEAN", "CorpusFeatures", "extract_corpus_features", "feature_cache_dir"]

#: The channel name of an unperturbed recording.
CLEAN = "clean"


@dataclass(frozen=True)
class CorpusFeatures:
    """Features (n, F) of corpus clips and their perturbed copies, with what each row is."""

    features: np.ndarray
    emotions: np.ndarray  # (n,) index into PRIMARY_EMOTIONS
    speakers: np.ndarray  # (n,) speaker ids, "ravdess-01", "nemo-EB0"
    corpora: np.ndarray  # (n,) corpus of each row, the speaker id's prefix
    channels: np.ndarray  # (n,) CLEAN or the perturbation a copy went through
    paths: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # "path: reason" for clips that could not be read

    @property
    def is_neutral(self) -> np.ndarray:
        return self.emotions == PRIMARY_EMOTIONS.index("neutral")

    @property
    def is_clean(self) -> np.ndarray:
        return self.channels == CLEAN

    def corpus_classes(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Which primaries each corpus labels (among ``rows``): a mask of shape (7,) by corpus.

        A corpus that never labels an emotion (nEMO has no disgust) says nothing about it, so
        training must not read its clips as evidence against that emotion.
        """
        rows = np.arange(len(self.emotions)) if rows is None else rows
        out = {}
        for corpus in np.unique(self.corpora[rows]):
            mask = np.zeros(len(PRIMARY_EMOTIONS), dtype=bool)
            mask[np.unique(self.emotions[rows][self.corpora[rows] == corpus])] = True
            out[str(corpus)] = mask
        return out

    def select(self, rows: np.ndarray) -> "CorpusFeatures":
        return CorpusFeatures(self.features[rows], self.emotions[rows], self.speakers[rows],
                              self.corpora[rows], self.channels[rows], tuple(self.paths[i] for i in rows),
                              self.skipped)


def feature_cache_dir() -> Path:
    return cache_dir() / "features"


def _key(content_sha: str, encoder: str, copy: int, seed: int) -> str:
    digest = hashlib.sha1(encoder_version(encoder).encode())
    digest.update(content_sha.encode())
    if copy:
        digest.update(f"{copy_version(copy)}/{seed}/{copy}".encode())
    return digest.hexdigest()


_worker: ClipFeatureExtractor | None = None


def _init_worker(feature_set: str) -> None:
    global _worker
    _worker = ClipFeatureExtractor(feature_set, threads=1)


def _extract(job: tuple[str, int, int, tuple[str, ...]]) -> tuple[str, dict[str, np.ndarray]] | str:
    """(channel, features by encoder) of one clip copy, or why it could not be read (in a worker)."""
    path, copy, seed, encoders = job
    try:
        audio = load_audio(path, target_rate_hz=FEATURE_SAMPLE_RATE_HZ)
        channel = CLEAN
        if copy:
            channel, samples = perturb(audio.samples, Path(path).name, copy, seed)
            audio = Audio(samples, FEATURE_SAMPLE_RATE_HZ)
        return channel, _worker.encoder_features(audio, encoders)
    except EmosynthError as exc:
        return str(exc)


def _content_sha(path: Path) -> str | None:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return None


def extract_corpus_features(
    clips: Sequence[LabelledClip],
    *,
    feature_set: str,
    copies: int = 0,
    seed: int = 0,
    workers: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> CorpusFeatures:
    """Features of every clip and of ``copies`` perturbed copies of each (:mod:`.channel`).

    Computed in ``workers`` processes (default: every core) and cached by file content. A clip
    that cannot be read is reported in ``skipped`` with its copies left out; the rest are kept.
    """
    from tqdm import tqdm

    encoders = feature_encoders(feature_set)
    cache = cache_dir or feature_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    shas = [_content_sha(c.path) for c in clips]
    jobs = [(i, copy) for i in range(len(clips)) for copy in range(copies + 1)]
    found: dict[tuple[int, int], tuple[str, dict[str, np.ndarray]] | str] = {}
    todo = []
    for i, copy in jobs:
        if shas[i] is None:
            found[i, copy] = f"{clips[i].path}: no such file"
            continue
        files = {e: cache / f"{_key(shas[i], e, copy, seed)}.npz" for e in encoders}
        if all(f.exists() for f in files.values()):
            loaded = [np.load(f) for f in files.values()]
            found[i, copy] = (str(loaded[0]["channel"]), {e: d["x"] for e, d in zip(encoders, loaded)})
        else:
            todo.append((i, copy))
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="features", unit="clip", disable=not progress)
    if todo:
        with ProcessPoolExecutor(max_workers=workers or usable_cpus(), initargs=(feature_set,),
                                 initializer=_init_worker) as pool:
            work = [(str(clips[i].path), copy, seed, encoders) for i, copy in todo]
            for (i, copy), out in zip(todo, pool.map(_extract, work, chunksize=4)):
                found[i, copy] = out
                if not isinstance(out, str):
                    for e in encoders:
                        with atomic_path(cache / f"{_key(shas[i], e, copy, seed)}.npz") as tmp, open(tmp, "wb") as fh:
                            np.savez(fh, x=out[1][e], channel=out[0])
                bar.update()
    bar.close()
    bad = {i for (i, _), out in found.items() if isinstance(out, str)}
    rows = [(i, copy) for i, copy in jobs if i not in bad]
    if not rows:
        raise CorpusError("no clip of the corpus could be read")
    return CorpusFeatures(
        features=np.stack([np.concatenate([found[r][1][e] for e in encoders]) for r in rows]),
        emotions=np.array([PRIMARY_EMOTIONS.index(clips[i].emotion) for i, _ in rows]),
        speakers=np.array([clips[i].speaker for i, _ in rows]),
        corpora=np.array([clips[i].corpus for i, _ in rows]),
        channels=np.array([found[r][0] for r in rows]),
        paths=tuple(str(clips[i].path) for i, _ in rows),
        skipped=tuple(sorted({found[i, 0] if isinstance(found[i, 0], str) else f"{clips[i].path}: unreadable"
                              for i in bad})),
    )
