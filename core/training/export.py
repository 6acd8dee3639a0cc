"""Exporting a trained Keras model to LiteRT, and checking the export against Keras."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from pathlib import Path

import keras
import numpy as np

from core.serving.litert import LiteRTModel

PARITY_TOLERANCE = 1e-4


def export_litert(model: keras.Model, path: Path) -> None:
    """Write `model` as a `.tflite` file, atomically, keeping the converter's chatter out of stdout."""
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp.tflite")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            model.export(str(tmp), format="litert")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_parity(litert: LiteRTModel, keras_probs: np.ndarray, x: np.ndarray) -> dict:
    """Largest absolute probability difference between LiteRT and Keras on the same inputs."""
    difference = float(np.abs(litert.predict(x) - keras_probs).max()) if len(x) else 0.0
    return {"n": int(len(x)), "max_abs_diff": difference, "tolerance": PARITY_TOLERANCE, "passed": difference <= PARITY_TOLERANCE}
