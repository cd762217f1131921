"""Who the emotion embeddings learn from, and who judges them (the honest-measurement split).

The embeddings are fitted on :data:`FIT_SPEAKERS` only; the recognizer that reports how well a
voice carries them (``benchmarks/bench_voice.py``, the *disjoint judge*) is trained on
:data:`JUDGE_SPEAKERS` only, so the judge has never heard a speaker the emotion was learned
from. Half of each corpus on each side, both genders on each side (RAVDESS: odd actors are
men; nEMO: EB0, IC0 and KD0 are women).

:data:`HELD_OUT_SENTENCES` (10 of nEMO's 90, chosen by hash of their ids, once) are never fitted
on: the fit's losses on them, with and without the embedding, show whether it carries the
emotion to sentences it never saw.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FIT_SPEAKERS", "HELD_OUT_SENTENCES", "JUDGE_SPEAKERS", "fit_side"]

FIT_SPEAKERS: frozenset[str] = frozenset(
    {f"ravdess-{i:02d}" for i in range(1, 11)} | {"nemo-EB0", "nemo-IC0", "nemo-KS0"})
JUDGE_SPEAKERS: frozenset[str] = frozenset(
    {f"ravdess-{i:02d}" for i in range(11, 21)} | {"nemo-KD0", "nemo-TP0", "nemo-WR0"})
HELD_OUT_SENTENCES: frozenset[str] = frozenset(
    f"nemo-{n}" for n in (4, 6, 17, 36, 41, 45, 49, 55, 66, 73))


def fit_side(speakers: Iterable[str]) -> set[str]:
    """The given speakers that are on the fitting side (for checks that nothing leaks)."""
    return set(speakers) & FIT_SPEAKERS
