"""Running an exported `.tflite` model with LiteRT, without TensorFlow.

This is the only inference path of the serving side: importing it pulls in
numpy and `ai_edge_litert`, never TensorFlow.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np


class LiteRTModel:
    """A LiteRT interpreter taking a batch of float32 inputs and returning probabilities.

    The interpreter is resized to each new batch size. Calls are serialised
    with a lock, since one interpreter must not run two invocations at once
    (gunicorn threads share it).
    """

    def __init__(self, path: Path | str, *, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = None
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, without the batch axis."""
        return tuple(int(d) for d in self._input["shape"][1:])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"expected inputs of shape (n, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        with self._lock:
            if self._batch != len(x):
                self._interpreter.resize_tensor_input(self._input["index"], [len(x), *self.input_shape])
                self._interpreter.allocate_tensors()
                self._batch = len(x)
            self._interpreter.set_tensor(self._input["index"], x)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output["index"]).copy()

    def predict(self, x: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """Probabilities for any number of inputs, `batch_size` at a time."""
        return np.concatenate([self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    def latency_ms(self, x: np.ndarray, *, repeats: int = 20) -> float:
        """Median milliseconds for one input, after a warm-up call."""
        one = x[:1]
        self(one)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            self(one)
            times.append(time.perf_counter() - started)
        return float(np.median(times) * 1000)
