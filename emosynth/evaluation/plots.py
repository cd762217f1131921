"""Pictures of evaluation results, drawn off-screen with matplotlib's Agg renderer."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..io import atomic_path

__all__ = ["save_confusion_png"]


def _row_shares(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum, shape (k, k); rows without examples stay 0."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


def save_confusion_png(
    confusion: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str = "Emotion confusion",
) -> None:
    """Write a confusion matrix of counts, shape (k, k), rows = target, columns = predicted, as
    a PNG at ``path`` (atomically).

    Colours show each row's shares (so rare targets read as clearly as common ones); every cell
    is annotated with its count and its share of the row.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    k = len(labels)
    if counts.shape != (k, k):
        raise ValueError(f"confusion has shape {counts.shape}, expected {(k, k)} for {k} labels")
    # Figure + FigureCanvasAgg draw with the Agg renderer without touching pyplot's global
    # backend, so this works headless and leaves an interactive session's backend alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shares = _row_shares(counts)
    size = 1.2 + 0.85 * k
    fig = Figure(figsize=(size + 1.2, size), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            colour = "white" if shares[i, j] > 0.55 else ("black" if counts[i, j] else "0.6")
            ax.text(j, i, f"{counts[i, j]}\n{100 * shares[i, j]:.0f}%", ha="center", va="center",
                    fontsize=8, color=colour)
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("target")
    ax.set_title(f"{title} (n = {int(counts.sum())})")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the target's clips")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
