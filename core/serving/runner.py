"""What every exported model runner shares: the call shape, batching, latency, and which runner a model needs.

A runner takes a batch of float32 model inputs and returns named outputs,
`probabilities` and (when the model has one) `embedding`:
`core.serving.litert.LiteRTModel` for the Keras models' `.tflite` files,
`core.serving.baseline.BaselineModel` for the baseline's estimator,
`core.serving.blend.BlendRunner` for a blend of both. The predictor, the
heatmaps and the export's parity check use only this shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from core.store.layout import ModelLayout


class Runner(Protocol):
    """The call shape both runners have."""

    input_shape: tuple[int, ...]
    has_embedding: bool

    def __call__(self, x: np.ndarray) -> np.ndarray: ...

    def outputs(self, x: np.ndarray) -> dict[str, np.ndarray]: ...

    def predict(self, x: np.ndarray, *, batch_size: int = ...) -> np.ndarray: ...

    def predict_outputs(self, x: np.ndarray, *, batch_size: int = ...) -> dict[str, np.ndarray]: ...


def check_batch(x: np.ndarray, input_shape: tuple[int, ...]) -> None:
    """Refuse a batch whose items are not `input_shape`, naming both shapes."""
    if x.shape[1:] != tuple(input_shape):
        raise ValueError(f"expected inputs of shape (n, {', '.join(map(str, input_shape))}), got {x.shape}")


def in_batches(
    outputs: Callable[[np.ndarray], dict[str, np.ndarray]], x: np.ndarray, batch_size: int
) -> dict[str, np.ndarray]:
    """`outputs` over any number of inputs, `batch_size` at a time, concatenated per output name."""
    batches = [outputs(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}


def latency_ms(model: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, repeats: int = 20) -> float:
    """Median milliseconds for one input, after a warm-up call."""
    one = x[:1]
    model(one)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model(one)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def served_file(files: ModelLayout) -> Path:
    """The file a trained model is served from: its LiteRT file, else its baseline estimator file.

    Raises:
        FileNotFoundError: neither exists (a blend has neither: `open_runner` reads its `blend.json`).
    """
    for path in (files.tflite, files.estimator):
        if path.is_file():
            return path
    raise FileNotFoundError(f"model {files.dir.name} has no exported file")


def open_runner(files: ModelLayout, *, num_threads: int | None = None) -> Runner:
    """The runner of a trained model: its LiteRT file, its baseline estimator file, or its blend of both.

    Raises:
        OSError: no such file exists. ValueError: the file is not a model, or a blend's part changed.
    """
    from core.serving.baseline import BaselineModel
    from core.serving.blend import open_blend
    from core.serving.litert import LiteRTModel

    if files.blend.is_file():
        return open_blend(files, num_threads=num_threads)
    path = served_file(files)
    if path == files.tflite:
        return LiteRTModel(path, num_threads=num_threads)
    return BaselineModel.load(path)
