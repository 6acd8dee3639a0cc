"""Exporting a trained Keras model to LiteRT, and checking the export against Keras.

The exported file is what serving loads: two named outputs, the
probabilities and the penultimate embedding the out-of-distribution check
reads (`core.training.models.with_embedding`). The report records whether
its probabilities match Keras' on test inputs, its size and its latency.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import keras
import numpy as np

from core.inputs.preprocess import as_model_input
from core.serving.litert import LiteRTModel
from core.store.artifacts import atomic_write
from core.training.models import with_embedding

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4
PARITY_ITEMS = 256


def export_litert(model: keras.Model, path: Path) -> None:
    """Write `model` with its embedding output as a `.tflite` file, atomically, without the converter's chatter."""
    exported = with_embedding(model)
    with contextlib.redirect_stdout(io.StringIO()):
        atomic_write(path, lambda tmp: exported.export(str(tmp), format="litert"))


def check_parity(litert: LiteRTModel, keras_probs: np.ndarray, x: np.ndarray) -> dict:
    """Largest absolute probability difference between LiteRT and Keras on the same inputs."""
    difference = float(np.abs(litert.predict(x) - keras_probs).max()) if len(x) else 0.0
    passed = difference <= PARITY_TOLERANCE
    return {"n": int(len(x)), "max_abs_diff": difference, "tolerance": PARITY_TOLERANCE, "passed": passed}


def export_checked(model: keras.Model, path: Path, x: np.ndarray, keras_probs: np.ndarray) -> dict:
    """Export to LiteRT, then measure its parity with Keras, its size and its latency.

    Args:
        model: The trained (single-output) model.
        path: Where the `.tflite` file goes.
        x: Test inputs to compare on, as training holds them (uint8 images or
            spectrogram windows); `PARITY_ITEMS` of them are enough.
        keras_probs: Keras' probabilities for `x`, already predicted, in the same order.

    Returns:
        The report's `litert_parity`, `litert_bytes` and `litert_latency_ms`.
    """
    export_litert(model, path)
    litert = LiteRTModel(path)
    inputs = as_model_input(x)
    parity = check_parity(litert, keras_probs, inputs)
    if not parity["passed"]:
        log.warning(
            "LiteRT export differs from Keras by %.2g (tolerance %.0e)", parity["max_abs_diff"], parity["tolerance"]
        )
    return {
        "litert_parity": parity,
        "litert_bytes": path.stat().st_size,
        "litert_latency_ms": litert.latency_ms(inputs) if len(inputs) else None,
    }
