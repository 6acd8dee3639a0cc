"""Fitting the baseline: hand-crafted features of the CNNs' own inputs, then scikit-learn gradient boosting.

Every run trains it first (`core.config.TrainConfig.run_models`), so every
comparison says whether a CNN beats what a few summary statistics of the same
preprocessed inputs achieve (`core.inputs.features`). It fits in seconds on
a CPU, and serves without TensorFlow (`core.serving.baseline`).

The number of boosting iterations is chosen on the validation split, as the
CNNs' early stopping is: the boosting is fitted for `MAX_ITERATIONS`, the
iteration with the lowest validation log loss is kept, and the estimator is
refitted to that many iterations (boosting without subsampling is
deterministic, so the refit equals the first iterations of the long fit).
Each iteration is one row of the history, as an epoch is for a CNN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss

from core.errors import InvalidInput
from core.inputs.features import input_features
from core.inputs.preprocess import Preprocessing
from core.serving.baseline import BaselineModel, one_thread
from core.training.fit import SplitData

LEARNING_RATE = 0.1
MAX_ITERATIONS = 100
MAX_LEAF_NODES = 15
L2_REGULARIZATION = 1.0


@dataclass
class BaselineFit:
    """The fitted baseline and how it got there (as `core.training.fit.FitResult`, with a runner for a Keras model).

    Attributes:
        model: The runner over the fitted estimator, as serving will load it.
        history: One row per boosting iteration, with the columns of a CNN's epochs.
        best_epoch: The iteration kept (1-based).
        train_seconds: Wall time of feature extraction and both fits.
        train_features: The training inputs' features: the baseline's
            embedding of the training split, for the out-of-distribution reference.
    """

    model: BaselineModel
    history: pd.DataFrame
    best_epoch: int
    train_seconds: float
    train_features: np.ndarray


def _estimator(n_train: int, iterations: int, seed: int) -> HistGradientBoostingClassifier:
    """Shallow, regularised boosting; leaves need fewer rows on small datasets so any split is possible."""
    return HistGradientBoostingClassifier(
        learning_rate=LEARNING_RATE,
        max_iter=iterations,
        max_leaf_nodes=MAX_LEAF_NODES,
        min_samples_leaf=max(2, min(20, n_train // 20)),
        l2_regularization=L2_REGULARIZATION,
        class_weight="balanced",
        early_stopping=False,
        random_state=seed,
    )


def _history(estimator: HistGradientBoostingClassifier, splits: dict) -> pd.DataFrame:
    """Accuracy and log loss on training and validation after each iteration."""
    labels = np.arange(len(estimator.classes_))
    columns: dict[str, list[float]] = {}
    for prefix, (features, y) in splits.items():
        staged = list(estimator.staged_predict_proba(features))
        columns[f"{prefix}accuracy"] = [float((p.argmax(axis=1) == y).mean()) for p in staged]
        columns[f"{prefix}loss"] = [float(log_loss(y, p, labels=labels)) for p in staged]
    n = len(columns["loss"])
    return pd.DataFrame(
        {
            "epoch": np.arange(1, n + 1),
            "phase": "train",
            **columns,
            "learning_rate": LEARNING_RATE,
        }
    )


def fit_baseline(
    data: SplitData, params: Preprocessing, *, seed: int, on_epoch: Callable[[dict], None] | None = None
) -> BaselineFit:
    """Features of the training and validation inputs, boosting, and the iteration count chosen on validation.

    Raises:
        InvalidInput: a class has no training inputs (the classifier would not know it).
    """
    missing = sorted(set(range(data.num_classes)) - set(np.unique(data.y_train).tolist()))
    if missing:
        raise InvalidInput(f"the baseline needs training inputs of every class; class indices {missing} have none")
    started = time.perf_counter()
    train, val = input_features(data.x_train, params), input_features(data.x_val, params)
    with one_thread():
        long_fit = _estimator(len(train), MAX_ITERATIONS, seed).fit(train, data.y_train)
        splits = {"": (train, data.y_train), "val_": (val, data.y_val)}
        history = _history(long_fit, splits)
        best = int(history["val_loss"].to_numpy().argmin()) + 1
        estimator = (
            long_fit if best == long_fit.n_iter_ else _estimator(len(train), best, seed).fit(train, data.y_train)
        )
    history["epoch_seconds"] = (time.perf_counter() - started) / len(history)
    for row in history.to_dict(orient="records") if on_epoch is not None else []:
        on_epoch(row)
    return BaselineFit(BaselineModel(estimator, params), history, best, time.perf_counter() - started, train)


def tree_nodes(model: BaselineModel) -> int:
    """Nodes in all the estimator's trees: the baseline's size, where a CNN counts weights.

    scikit-learn has no public list of a HistGradientBoosting model's trees;
    `_predictors` has held them since 0.21, and the version is pinned.
    """
    return int(sum(len(tree.nodes) for iteration in model.estimator._predictors for tree in iteration))
