"""Headline classification metrics: pure functions over labels and probabilities.

Thin, checked wrappers over scikit-learn, with the medical conventions the
project needs: a positive class, a validation-chosen threshold, and
sensitivity/specificity at that threshold.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve


def _check(y_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, probs = np.asarray(y_true), np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(y_true) != len(probs):
        raise ValueError(
            f"expected y_true of shape (n,) and probs of shape (n, n_classes), "
            f"got {y_true.shape} and {probs.shape}"
        )
    return y_true, probs


def accuracy(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Share of items whose most probable class is the true class."""
    y_true, probs = _check(y_true, probs)
    return float(accuracy_score(y_true, probs.argmax(axis=1)))


def roc_auc(y_true: np.ndarray, probs: np.ndarray, *, positive: int = 1) -> float | None:
    """AUROC: of the positive class for two classes, one-vs-rest macro for more.

    Returns None when it is undefined (a class absent from `y_true`).
    """
    y_true, probs = _check(y_true, probs)
    n_classes = probs.shape[1]
    present = np.unique(y_true)
    try:
        if n_classes == 2:
            if len(present) < 2:
                return None
            return float(roc_auc_score(y_true == positive, probs[:, positive]))
        if len(present) < n_classes:
            return None
        return float(roc_auc_score(y_true, probs, multi_class="ovr", labels=np.arange(n_classes)))
    except ValueError:
        return None


def youden_threshold(y_true: np.ndarray, scores: np.ndarray, *, positive: int = 1) -> float:
    """The threshold on `scores` that maximises sensitivity + specificity - 1.

    Choose it on validation data; applying it to test data is then honest.
    """
    positives = np.asarray(y_true) == positive
    if positives.all() or not positives.any():
        return 0.5
    fpr, tpr, thresholds = roc_curve(positives, scores)
    best = int(np.argmax(tpr - fpr))
    return float(min(1.0, thresholds[best]))


def sensitivity_specificity(
    y_true: np.ndarray, scores: np.ndarray, *, threshold: float, positive: int = 1
) -> tuple[float | None, float | None]:
    """Sensitivity and specificity when `scores >= threshold` is called positive.

    Either is None when its denominator is zero.
    """
    actual = np.asarray(y_true) == positive
    called = np.asarray(scores) >= threshold
    tn, fp, fn, tp = confusion_matrix(actual, called, labels=[False, True]).ravel()
    sensitivity = tp / (tp + fn) if tp + fn else None
    specificity = tn / (tn + fp) if tn + fp else None
    return (
        None if sensitivity is None else float(sensitivity),
        None if specificity is None else float(specificity),
    )
