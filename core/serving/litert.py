"""Running an exported `.tflite` model with LiteRT, without TensorFlow.

This is the only inference path of the serving side: importing it pulls in
numpy and `ai_edge_litert`, never TensorFlow.

A model exported since the out-of-distribution check existed has two named
outputs, `probabilities` and `embedding` (what its classifier head sees);
one exported before has a single output, the probabilities, and no embedding.
Outputs are found by name: LiteRT does not keep Keras' output order.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from core.serving.runner import check_batch, in_batches

PROBABILITIES, EMBEDDING = "probabilities", "embedding"


class LiteRTModel:
    """A LiteRT interpreter taking a batch of float32 inputs and returning probabilities (and embeddings).

    The interpreter is resized to each new batch size. Calls are serialised
    with a lock, since one interpreter must not run two invocations at once
    (gunicorn threads share it).
    """

    def __init__(self, path: Path | str, *, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._output_indices()
        self._batch = None
        self._lock = threading.Lock()

    def _output_indices(self) -> dict[str, int]:
        """Tensor index of each output by name: both named outputs, or the single output as the probabilities."""
        if self._interpreter.get_signature_list():
            named = self._interpreter.get_signature_runner().get_output_details()
            if PROBABILITIES in named:
                return {name: int(named[name]["index"]) for name in (PROBABILITIES, EMBEDDING) if name in named}
        return {PROBABILITIES: int(self._interpreter.get_output_details()[0]["index"])}

    @property
    def has_embedding(self) -> bool:
        """Whether the model also outputs its embedding (exported since the out-of-distribution check)."""
        return EMBEDDING in self._outputs

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, without the batch axis."""
        return tuple(int(d) for d in self._input["shape"][1:])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one batch."""
        return self.outputs(x)[PROBABILITIES]

    def outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every output for one batch, by name: `probabilities`, and `embedding` when the model has one."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        check_batch(x, self.input_shape)
        with self._lock:
            if self._batch != len(x):
                self._interpreter.resize_tensor_input(self._input["index"], [len(x), *self.input_shape])
                self._interpreter.allocate_tensors()
                self._batch = len(x)
            self._interpreter.set_tensor(self._input["index"], x)
            self._interpreter.invoke()
            return {name: self._interpreter.get_tensor(index).copy() for name, index in self._outputs.items()}

    def predict(self, x: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """Probabilities for any number of inputs, `batch_size` at a time."""
        return self.predict_outputs(x, batch_size=batch_size)[PROBABILITIES]

    def predict_outputs(self, x: np.ndarray, *, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Every output for any number of inputs, `batch_size` at a time."""
        return in_batches(self.outputs, x, batch_size)
