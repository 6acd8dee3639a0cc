"""From probabilities to a decision: temperature, threshold. Numpy only, for the serving path."""

from __future__ import annotations

import numpy as np

# Cards per view of the dashboard's errors gallery (`app_train_dashboard.tables.worst_errors`). Training keeps
# previews of exactly the items a view can show (`core.training.steps.shown_items`), so both read this one number.
GALLERY_CARDS = 12
# Test items of each class whose previews are kept beside a model's errors, the first of each class in the
# test predictions (`shown_items`): the dashboard's examples per class (`app_train_dashboard.tables.class_examples`).
CLASS_SAMPLE = 4


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Soften (T > 1) or sharpen (T < 1) softmax probabilities: softmax(log p / T)."""
    logits = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def predicted_classes(probs: np.ndarray, *, positive: int | None, threshold: float | None) -> np.ndarray:
    """Argmax, except that two classes are split at the operating threshold."""
    if positive is None or threshold is None:
        return probs.argmax(axis=1)
    return np.where(probs[:, positive] >= threshold, positive, 1 - positive)


def headline_decisions(
    probs: np.ndarray, labels: np.ndarray, headline: dict, *, positive: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(calibrated probabilities, called class, loss -log p(true class)) of test rows, as a model's report decides.

    The dashboard's errors gallery ranks its cards by this loss, and training
    keeps previews of exactly the items it can show
    (`core.training.steps.shown_items`): one computation, so that the two
    never disagree about which items those are.

    Args:
        probs: (n, n_classes) raw probabilities.
        labels: (n,) true class indices.
        headline: The report's headline level: `temperature` (default 1) and
            `operating_point.threshold` (two classes; default argmax).
        positive: The positive class index of a two-class model, else None.
    """
    calibrated = apply_temperature(probs, headline.get("temperature", 1.0))
    threshold = headline.get("operating_point", {}).get("threshold")
    called = predicted_classes(calibrated, positive=positive, threshold=threshold)
    loss = -np.log(np.clip(calibrated[np.arange(len(labels)), labels], 1e-12, 1.0))
    return calibrated, called, loss
