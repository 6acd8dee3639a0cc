"""A blend: two served models of one run answering as one, their probabilities averaged with fixed weights.

A blend's folder holds no model file, only `blend.json` (`ModelLayout.blend`):
its parts (models of the same run, beside it), their weights, the part whose
embedding the out-of-distribution check reads, and each part's served file
with its SHA-256. Training writes it (`core.training.blend`, through
`recipe`), and serving opens the parts only if every file is still the one
the blend was evaluated with: what is served is exactly what was approved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.data.audit import file_sha256
from core.serving.litert import EMBEDDING, PROBABILITIES
from core.serving.runner import Runner, in_batches, open_runner, served_file
from core.store.artifacts import read_json
from core.store.layout import ModelLayout


class BlendRunner:
    """The weighted mean of its parts' probabilities, with one part's embedding: the `Runner` call shape.

    Args:
        parts: The parts' runners by name; they must take the same inputs.
        weights: One per part, in `parts` order, summing to 1.
        embedding_from: The part whose embedding is the blend's.

    Raises:
        ValueError: the parts take inputs of different shapes, or the weights do not fit them.
    """

    def __init__(self, parts: dict[str, Runner], weights: Sequence[float], *, embedding_from: str):
        if len(weights) != len(parts) or abs(sum(weights) - 1) > 1e-6 or embedding_from not in parts:
            raise ValueError(f"a blend needs one weight per part, summing to 1, got {list(weights)} for {list(parts)}")
        shapes = {name: tuple(runner.input_shape) for name, runner in parts.items()}
        if len(set(shapes.values())) != 1:
            raise ValueError(f"the parts of a blend take different inputs: {shapes}")
        self.parts, self.weights, self.embedding_from = parts, [float(w) for w in weights], embedding_from
        self.input_shape = next(iter(shapes.values()))
        self.has_embedding = parts[embedding_from].has_embedding

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.outputs(x)[PROBABILITIES]

    def outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """`probabilities`, the weighted mean of the parts', and `embedding`, the `embedding_from` part's."""
        answers = {name: runner.outputs(x) for name, runner in self.parts.items()}
        probs = sum(w * answers[name][PROBABILITIES] for name, w in zip(self.parts, self.weights, strict=True))
        found = {PROBABILITIES: np.asarray(probs, dtype=np.float32)}
        if self.has_embedding:
            found[EMBEDDING] = answers[self.embedding_from][EMBEDDING]
        return found

    def predict(self, x: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """Probabilities for any number of inputs, `batch_size` at a time."""
        return self.predict_outputs(x, batch_size=batch_size)[PROBABILITIES]

    def predict_outputs(self, x: np.ndarray, *, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Every output for any number of inputs, `batch_size` at a time."""
        return in_batches(self.outputs, x, batch_size)


def recipe(files: ModelLayout, parts: Sequence[str], weights: Sequence[float], *, embedding_from: str) -> dict:
    """What `blend.json` holds for a blend of `parts` (models beside `files`): the parts' served files and SHA-256."""
    served = {part: served_file(_part(files, part)) for part in parts}
    return {
        "parts": list(parts),
        "weights": [float(w) for w in weights],
        "embedding_from": embedding_from,
        "files": {part: {"file": path.name, "sha256": file_sha256(path)} for part, path in served.items()},
    }


def open_blend(files: ModelLayout, *, num_threads: int | None = None) -> BlendRunner:
    """Open a blend's parts, each checked to be the very file the blend was evaluated with.

    Raises:
        ValueError: a part changed since the blend was made, is itself a blend, or is not named in the recipe.
        OSError: a part's file is missing.
    """
    made = read_json(files.blend)
    runners = {}
    for part in made["parts"]:
        part_files = _part(files, part)
        if part_files.blend.is_file():
            raise ValueError(f"part {part} of a blend is itself a blend")
        expected = made["files"][part]
        path = served_file(part_files)
        if path.name != expected["file"] or file_sha256(path) != expected["sha256"]:
            raise ValueError(f"part {part} changed since the blend was made")
        runners[part] = open_runner(part_files, num_threads=num_threads)
    return BlendRunner(runners, made["weights"], embedding_from=made["embedding_from"])


def _part(files: ModelLayout, part: str) -> ModelLayout:
    """A part's folder: a sibling of the blend's, in the same run."""
    if not part or "/" in part or "\\" in part or part in (".", ".."):
        raise ValueError(f"a blend's part must be a model of its run, got {part!r}")
    return ModelLayout(files.dir.parent / part)
