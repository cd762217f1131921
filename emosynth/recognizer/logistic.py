"""Fitting the recognizer's multinomial logistic regression, with per-row class masks.

``allowed`` says which classes each row's softmax runs over. The recognizer passes every class
its training corpora label, for every row (docs/recognizer.md, "A class a corpus lacks", says why
a corpus is not let to compete only among its own labels); a class no corpus labels stays out.

Objective, as scikit-learn's: ``C * sum_i w_i * CE_i + ||W||^2 / 2`` (the bias unpenalised),
minimised by L-BFGS (from zeros unless told otherwise), so a fit is deterministic. Training only;
inference is :class:`~.model.LinearClassifier`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

__all__ = ["fit_masked_logistic", "balanced_weights"]

_MAX_ITER = 1000


def balanced_weights(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sample weights that give every (group, label) cell the same total weight, mean 1.

    With corpora as groups this balances classes within each corpus and corpora against each
    other, so 3237 nEMO clips do not drown 1200 RAVDESS ones.
    """
    cells = np.char.add(np.char.add(groups.astype(str), "\x00"), labels.astype(str))
    _, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
    return len(labels) / (len(counts) * counts[inverse])


def fit_masked_logistic(
    x: np.ndarray, y: np.ndarray, allowed: np.ndarray, sample_weight: np.ndarray, c: float,
    n_classes: int, init: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(weights (K, F), bias (K,)) of a softmax regression on standardised ``x`` (n, F).

    ``allowed`` (n, K) bool: the classes each row's softmax runs over (its corpus's labels); the
    row's own label must be among them. A class no row allows keeps zero weights (the caller
    gives it a very negative bias). ``init``: a (weights, bias) to start from instead of zeros,
    e.g. the solution at the next smaller C, which makes a path over a grid of C several times
    cheaper.
    """
    n, f = x.shape
    if not allowed[np.arange(n), y].all():
        raise ValueError("a row's label is not among its allowed classes")
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    mask_add = np.where(allowed, 0.0, -np.inf)
    sw = (c * sample_weight)[:, None]

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: n_classes * f].reshape(n_classes, f)
        b = theta[n_classes * f:]
        logits = x @ w.T + b + mask_add
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        z = p.sum(axis=1, keepdims=True)
        p /= z
        log_p_true = logits[np.arange(n), y] - np.log(z[:, 0])
        loss = -float(np.sum(sw[:, 0] * log_p_true)) + 0.5 * float(np.sum(w * w))
        d = sw * (p - onehot)
        grad_w = d.T @ x + w
        grad_b = d.sum(axis=0)
        return loss, np.concatenate([grad_w.ravel(), grad_b])

    start = np.zeros(n_classes * (f + 1)) if init is None else np.concatenate([init[0].ravel(), init[1]])
    result = minimize(loss_grad, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": _MAX_ITER, "gtol": 1e-5})
    theta = result.x
    return theta[: n_classes * f].reshape(n_classes, f), theta[n_classes * f:]
