"""From probabilities to a decision: temperature, threshold. Numpy only, for the serving path."""

from __future__ import annotations

import numpy as np


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
