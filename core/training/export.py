"""Exporting a trained model for serving, and checking the served file against the trained model.

A Keras model becomes a LiteRT `.tflite` file with two named outputs, the
probabilities and the penultimate embedding the out-of-distribution check
reads (`core.training.models.with_embedding`). The baseline's estimator is
written with joblib (`core.serving.baseline`). Either way the file is loaded
back by the runner serving uses, and the report records whether its
probabilities match the trained model's on test inputs, its size and its
latency (under the `litert_*` keys for both kinds; `runtime` names which).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import keras
import numpy as np

from core.inputs.preprocess import as_model_input
from core.serving.baseline import BaselineModel
from core.serving.litert import LiteRTModel
from core.serving.runner import Runner, latency_ms
from core.store.artifacts import atomic_write
from core.training.models import with_embedding

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4
PARITY_ITEMS = 256


def export_litert(model: keras.Model, path: Path) -> None:
    """Write `model` with its embedding output as a `.tflite` file, atomically, without the converter's chatter.

    A model that already answers a dict (probabilities and embedding, as a
    cross-validated run's ensemble does: `core.training.cv`) is written as it is.
    """
    exported = model if isinstance(model.output, dict) else with_embedding(model)
    with contextlib.redirect_stdout(io.StringIO()):
        atomic_write(path, lambda tmp: exported.export(str(tmp), format="litert"))


def check_parity(served: Runner, trained_probs: np.ndarray, x: np.ndarray) -> dict:
    """Largest absolute probability difference between the served file and the trained model on the same inputs."""
    difference = float(np.abs(served.predict(x) - trained_probs).max()) if len(x) else 0.0
    passed = difference <= PARITY_TOLERANCE
    return {"n": int(len(x)), "max_abs_diff": difference, "tolerance": PARITY_TOLERANCE, "passed": passed}


def served_figures(served: Runner, x: np.ndarray, trained_probs: np.ndarray, *, runtime: str, size: int) -> dict:
    """The report's export entries: parity with the trained model, the served files' size, one input's latency.

    Args:
        served: The model as serving opens it. size: Bytes of what it is served from.
    """
    inputs = as_model_input(x)
    parity = check_parity(served, trained_probs, inputs)
    if not parity["passed"]:
        log.warning(
            "%s export differs from the trained model by %.2g (tolerance %.0e)",
            runtime,
            parity["max_abs_diff"],
            parity["tolerance"],
        )
    return {
        "runtime": runtime,
        "litert_parity": parity,
        "litert_bytes": size,
        "litert_latency_ms": latency_ms(served, inputs) if len(inputs) else None,
    }


def export_checked(model: keras.Model, path: Path, x: np.ndarray, keras_probs: np.ndarray) -> dict:
    """Export to LiteRT, then measure its parity with Keras, its size and its latency.

    Args:
        model: The trained model: single-output, or already answering `with_embedding`'s dict.
        path: Where the `.tflite` file goes.
        x: Test inputs to compare on, as training holds them (uint8 images or
            spectrogram windows); `PARITY_ITEMS` of them are enough.
        keras_probs: Keras' probabilities for `x`, already predicted, in the same order.

    Returns:
        The report's `runtime`, `litert_parity`, `litert_bytes` and `litert_latency_ms`.
    """
    export_litert(model, path)
    return served_figures(LiteRTModel(path), x, keras_probs, runtime="litert", size=path.stat().st_size)


def export_baseline_checked(model: BaselineModel, path: Path, x: np.ndarray, trained_probs: np.ndarray) -> dict:
    """Write the baseline's estimator, load it back as serving will, and measure it as `export_checked` does."""
    atomic_write(path, model.save)
    return served_figures(BaselineModel.load(path), x, trained_probs, runtime="scikit-learn", size=path.stat().st_size)
