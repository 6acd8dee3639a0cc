"""Running the exported baseline model (hand-crafted features + gradient boosting), without TensorFlow.

Same call shape as `core.serving.litert.LiteRTModel`: a batch of float32 model
inputs in, `probabilities` and `embedding` out, so the predictor, the
occlusion heatmap and the out-of-distribution check treat both alike. The
embedding is the feature vector (`core.inputs.features`).

The file is a joblib pickle written by training into the run's model folder.
Loading a pickle runs code, so, like every file under ARTIFACTS_DIR, it must
come only from this project's own training (ARTIFACTS_DIR is never written
by uploads).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path

import numpy as np

from core.inputs.features import input_features
from core.inputs.preprocess import Preprocessing, preprocessing_from_dict
from core.serving.litert import EMBEDDING, PROBABILITIES
from core.serving.runner import check_batch, in_batches

FORMAT = "core-baseline-1"


@functools.cache
def _thread_pools():
    """The process's native thread pools, found once (finding them walks every loaded library: about 15 ms)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_thread() -> contextlib.AbstractContextManager:
    """Run scikit-learn's OpenMP code on one thread inside this block.

    Gradient boosting on a few hundred features is microseconds of work per
    input, and OpenMP's threads wait for each other by spinning: on a busy
    machine (gunicorn's workers, or a shared CI box) a fit took a hundred
    times longer with two threads than with one. Call it once scikit-learn is
    imported, so its OpenMP library is among those found.
    """
    return _thread_pools().limit(limits=1, user_api="openmp")


class MeanOfEstimators:
    """Several fitted classifiers answering as one: the mean of their `predict_proba`.

    A cross-validated run serves its fold models this way (`core.training.cv`),
    inside one `BaselineModel` file, so serving needs no change. It lives here,
    beside the runner that unpickles it, so loading it never imports training.
    """

    def __init__(self, estimators: list):
        self.estimators = list(estimators)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """The members' class probabilities, averaged (columns in class-index order, as each member's)."""
        return np.mean([estimator.predict_proba(features) for estimator in self.estimators], axis=0)


class BaselineModel:
    """A fitted scikit-learn classifier over `input_features` of the run's preprocessed inputs.

    Args:
        estimator: A fitted classifier with `predict_proba` (columns in class-index order).
        params: The preprocessing its inputs come from (which features to compute).
    """

    def __init__(self, estimator, params: Preprocessing):
        self.estimator, self.params = estimator, params
        self._lock = threading.Lock()  # scikit-learn's predict may use OpenMP threads: one call at a time

    @classmethod
    def load(cls, path: Path | str) -> BaselineModel:
        """Read a file written by `save`.

        Raises:
            ValueError: the file is not a baseline model of this format.
        """
        import joblib

        try:
            payload = joblib.load(Path(path))
        except OSError:
            raise
        except Exception as exc:  # unpickling damaged bytes can raise almost any type; all mean "not a model"
            raise ValueError(f"damaged baseline model file ({type(exc).__name__})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError("not a baseline model file of this version")
        return cls(payload["estimator"], preprocessing_from_dict(payload["preprocessing"]))

    def save(self, path: Path) -> None:
        """Write the estimator and its preprocessing to `path` (the caller makes it atomic)."""
        import joblib

        joblib.dump({"format": FORMAT, "estimator": self.estimator, "preprocessing": self.params.to_dict()}, path)

    @property
    def has_embedding(self) -> bool:
        """Always: the features are the embedding."""
        return True

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, without the batch axis."""
        return tuple(self.params.input_shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one batch."""
        return self.outputs(x)[PROBABILITIES]

    def outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """`probabilities` and `embedding` (the features) for a batch of model inputs."""
        x = np.asarray(x)
        check_batch(x, self.input_shape)
        features = input_features(x, self.params)
        with self._lock, one_thread():
            probabilities = self.estimator.predict_proba(features).astype(np.float32)
        return {PROBABILITIES: probabilities, EMBEDDING: features}

    def predict(self, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """Probabilities for any number of inputs."""
        return self.predict_outputs(x, batch_size=batch_size)[PROBABILITIES]

    def predict_outputs(self, x: np.ndarray, *, batch_size: int = 256) -> dict[str, np.ndarray]:
        """Every output for any number of inputs, `batch_size` at a time."""
        return in_batches(self.outputs, x, batch_size)
