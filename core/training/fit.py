"""Fitting one model: losses, callbacks, cached-feature head training, fine-tuning.

`fit_model` returns the trained Keras model and its per-epoch history as a
DataFrame; writing files is the caller's job.

Inputs are read a batch at a time (`core.training.batches.batches`, and the
chunked loops here), so they may be disk-backed array-likes (`Rows`) and
peak memory does not grow with the dataset. Training uses the devices
`core.training.devices` finds (a GPU when there is one, mixed precision
where it helps); the model returned is float32 whichever precision trained it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import ops
from sklearn.utils.class_weight import compute_class_weight

from core.config import TrainConfig
from core.inputs.preprocess import as_model_input
from core.training.augment import build_augmenter
from core.training.batches import Rows, batches
from core.training.devices import training_devices
from core.training.models import (
    assemble,
    build_backbone,
    build_custom_cnn,
    build_head,
    float32_twin,
    unfreeze_top,
)

log = logging.getLogger(__name__)


@dataclass
class SplitData:
    """Model inputs and integer labels per split (windows for sounds); inputs may be disk-backed (`Rows`)."""

    x_train: Rows
    y_train: np.ndarray
    x_val: Rows
    y_val: np.ndarray
    modality: str
    num_classes: int


@dataclass
class FitResult:
    """A trained model and how it got there.

    Attributes:
        model: The end-to-end model, best weights restored, computing in
            float32 (`core.training.models.float32_twin`).
        history: One row per epoch: epoch, phase, accuracy, loss, val_accuracy,
            val_loss, learning_rate, epoch_seconds.
        best_epoch: The 1-based epoch whose weights were kept.
        train_seconds: Wall time of the whole fit, feature caching included.
        cache_seconds: Time spent computing cached backbone features.
        train_features: The training inputs' pooled backbone features (no
            augmentation) when the final model's backbone is the one they were
            cached with (no fine-tuning, float32): its embedding of the training
            split, so the out-of-distribution reference needs no second pass.
        devices: What trained it (`core.training.devices.Devices.to_dict`).
    """

    model: keras.Model
    history: pd.DataFrame
    best_epoch: int
    train_seconds: float
    cache_seconds: float = 0.0
    train_features: np.ndarray | None = None
    devices: dict | None = None


@keras.saving.register_keras_serializable(package="core")
def pairwise_auroc_loss(y_true, y_pred):
    """Smooth AUROC surrogate: logistic loss on every positive-negative score gap.

    The score is log p(positive) - log p(negative), so the loss ranks
    positives above negatives instead of matching probabilities. Each item's
    value is its mean loss over the pairs it takes part in; items of a batch
    without the other class contribute 0.
    """
    labels = ops.cast(ops.reshape(y_true, (-1,)), "float32")
    eps = keras.config.epsilon()
    score = ops.log(y_pred[:, 1] + eps) - ops.log(y_pred[:, 0] + eps)
    gap = score[:, None] - score[None, :]
    pair = labels[:, None] * (1.0 - labels)[None, :]
    pair_loss = ops.softplus(-gap) * pair
    n_pos, n_neg = ops.sum(labels), ops.sum(1.0 - labels)
    per_positive = ops.sum(pair_loss, axis=1) / ops.maximum(n_neg, 1.0)
    per_negative = ops.sum(pair_loss, axis=0) / ops.maximum(n_pos, 1.0)
    return labels * per_positive + (1.0 - labels) * per_negative


class EpochRecorder(keras.callbacks.Callback):
    """Record each epoch's metrics, learning rate and duration, and pass them on.

    Args:
        phase: "train" for the main phase, "fine_tune" for the second one.
        first_epoch: Number given to this fit's first epoch (1-based), so a
            fine-tuning phase continues the numbering.
        on_epoch: Called with each finished row, e.g. to append to disk.
    """

    def __init__(self, phase: str, first_epoch: int, on_epoch: Callable[[dict], None] | None):
        super().__init__()
        self.phase, self.first_epoch, self.on_epoch = phase, first_epoch, on_epoch
        self.rows: list[dict] = []

    def on_train_begin(self, logs=None):
        self.rows = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._rate = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {
            "epoch": self.first_epoch + epoch,
            "phase": self.phase,
            "accuracy": logs.get("accuracy"),
            "loss": logs.get("loss"),
            "val_accuracy": logs.get("val_accuracy"),
            "val_loss": logs.get("val_loss"),
            "learning_rate": self._rate,
            "epoch_seconds": round(time.perf_counter() - self._started, 4),
        }
        self.rows.append(row)
        if self.on_epoch is not None:
            self.on_epoch(row)


def class_weights(y: np.ndarray, num_classes: int) -> dict[int, float]:
    """'Balanced' weights, so a rare class counts as much as a common one."""
    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    table = {int(c): 1.0 for c in range(num_classes)}
    table.update({int(c): float(w) for c, w in zip(present, weights, strict=True)})
    return table


def _loss(name: str, num_classes: int):
    if name == "auroc":
        if num_classes != 2:
            raise ValueError(f"the auroc loss needs exactly 2 classes, got {num_classes}")
        return pairwise_auroc_loss
    return keras.losses.SparseCategoricalCrossentropy()


def _callbacks(config: TrainConfig, phase: str, first_epoch: int, on_epoch) -> tuple[list, EpochRecorder]:
    recorder = EpochRecorder(phase, first_epoch, on_epoch)
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
    reducer = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=config.lr_patience, min_lr=1e-6
    )
    return [recorder, stopper, reducer], recorder


def _verbosity() -> int:
    """Keras' progress bar on a terminal; one line per epoch in logs and CI."""
    return 1 if sys.stdout.isatty() else 2


def _fit(
    model: keras.Model,
    train: tf.data.Dataset | tuple[np.ndarray, np.ndarray],
    val: tf.data.Dataset | tuple[np.ndarray, np.ndarray],
    *,
    config: TrainConfig,
    epochs: int,
    learning_rate: float,
    phase: str,
    first_epoch: int,
    num_classes: int,
    weights: dict[int, float] | None,
    on_epoch,
) -> tuple[pd.DataFrame, int]:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=_loss(config.loss, num_classes),
        metrics=["accuracy"],
    )
    callbacks, recorder = _callbacks(config, phase, first_epoch, on_epoch)
    streamed = isinstance(train, tf.data.Dataset)  # shuffled by `batches` itself
    fit_args = {"shuffle": False} if streamed else {"batch_size": config.batch_size}
    x, y = (train, None) if streamed else train
    model.fit(
        x,
        y,
        validation_data=val,
        epochs=epochs,
        class_weight=None if config.loss == "auroc" else weights,
        callbacks=callbacks,
        verbose=_verbosity(),
        **fit_args,
    )
    stopper = callbacks[1]
    return pd.DataFrame(recorder.rows), first_epoch + stopper.best_epoch


def _chunks(x: Rows, batch_size: int, rows: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Model inputs of `rows` of `x` (all of them by default), `batch_size` at a time, in order."""
    if rows is None:
        for start in range(0, len(x), batch_size):
            yield as_model_input(x[start : start + batch_size])
        return
    for start in range(0, len(rows), batch_size):
        yield as_model_input(x[rows[start : start + batch_size]])


def channel_stats(x: Rows, *, max_items: int = 2048, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance of model inputs, from at most `max_items` evenly spaced items.

    Summed chunk by chunk in float64, so a sample of large images never
    exists as one float array.
    """
    rows = np.arange(0, len(x), max(1, len(x) // max_items))
    total = squares = 0.0
    count = 0
    for chunk in _chunks(x, batch_size, rows):
        axes = tuple(range(chunk.ndim - 1))
        total = total + chunk.sum(axis=axes, dtype=np.float64)
        squares = squares + np.square(chunk, dtype=np.float64).sum(axis=axes)
        count += int(np.prod(chunk.shape[:-1]))
    mean = total / count
    return mean, np.maximum(squares / count - mean**2, 1e-6)


def extract_features(
    backbone: keras.Model,
    x: Rows,
    *,
    batch_size: int,
    augmenter: keras.Model | None = None,
) -> np.ndarray:
    """Pooled backbone features for every item, optionally of an augmented view, read chunk by chunk."""
    features = []
    for batch in _chunks(x, batch_size):
        if augmenter is not None:
            batch = augmenter(batch, training=True)
        features.append(ops.convert_to_numpy(backbone(batch, training=False)).astype(np.float32))
    return np.concatenate(features)


def cache_features(
    backbone: keras.Model,
    x: Rows,
    y: np.ndarray,
    *,
    views: int,
    augmenter: keras.Model | None,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of `views` versions of every item: the original, then augmented ones (none without an augmenter).

    A frozen backbone gives the same output for the same input, so these are
    computed once and the head trains on them for every epoch. Only the
    features (a few KB per view of an item) are held, never the inputs.
    """
    features = [extract_features(backbone, x, batch_size=batch_size)]
    for _ in range(max(0, views - 1) if augmenter is not None else 0):
        features.append(extract_features(backbone, x, batch_size=batch_size, augmenter=augmenter))
    return np.concatenate(features), np.tile(y, len(features))


def fit_model(
    name: str,
    data: SplitData,
    config: TrainConfig,
    *,
    weights: str | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> FitResult:
    """Train one model on the training split, validating on the validation split.

    Args:
        name: "custom_cnn" or a backbone name.
        data: Inputs and labels.
        config: Training options.
        weights: Backbone weights as `core.training.models.resolve_weights` returns them.
        on_epoch: Receives each epoch's history row as soon as it exists.

    Raises:
        InvalidInput: `config.precision` is "mixed" and no GPU is visible.
    """
    devices = training_devices(config.precision)
    log.info("%s: training on %s", name, devices.describe())
    keras.utils.set_random_seed(config.seed)
    started = time.perf_counter()
    plan = _Plan(
        data=data,
        config=config,
        # Built before the devices' scope, so it computes in float32 whatever the models do.
        augmenter=build_augmenter(data.modality, seed=config.seed, flip=config.flip, strength=config.augment),
        common=dict(
            config=config,
            num_classes=data.num_classes,
            on_epoch=on_epoch,
            weights=class_weights(data.y_train, data.num_classes),
        ),
    )
    with devices.scope():
        if name == "custom_cnn":
            model, history, best, cache_seconds, features = _fit_custom_cnn(plan)
        else:
            model, history, best, cache_seconds, features = _fit_transfer(name, plan, weights)
    # A plain float32 model to save and export: no 16-bit layers, no variables mirrored across GPUs.
    twin = float32_twin(model, copy=devices.strategy == "mirrored")
    if devices.precision != "float32":
        features = None  # 16-bit features; the float32 twin's embedding is computed again where needed
    seconds = time.perf_counter() - started
    return FitResult(twin, history, best, seconds, cache_seconds, features, devices.to_dict())


@dataclass
class _Plan:
    """What both kinds of fit share: the data, the options, the augmenter and `_fit`'s common arguments."""

    data: SplitData
    config: TrainConfig
    augmenter: keras.Model | None
    common: dict

    def batches(self) -> tf.data.Dataset:
        """Shuffled, augmented end-to-end training batches, read from the training inputs batch by batch."""
        data, config = self.data, self.config
        return batches(
            data.x_train, data.y_train, batch_size=config.batch_size, seed=config.seed, augmenter=self.augmenter
        )

    @property
    def val(self) -> tf.data.Dataset:
        """Validation batches, in order, read batch by batch like the training ones."""
        return batches(self.data.x_val, self.data.y_val, batch_size=self.config.batch_size)


def _fit_custom_cnn(plan: _Plan) -> tuple[keras.Model, pd.DataFrame, int, float, None]:
    data, config = plan.data, plan.config
    stats = channel_stats(data.x_train, batch_size=config.batch_size)
    model = build_custom_cnn(data.x_train.shape[1:], data.num_classes, dropout=config.dropout, input_stats=stats)
    history, best = _fit(
        model,
        plan.batches(),
        plan.val,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        phase="train",
        first_epoch=1,
        **plan.common,
    )
    return model, history, best, 0.0, None


def _fit_transfer(
    name: str, plan: _Plan, weights: str | None
) -> tuple[keras.Model, pd.DataFrame, int, float, np.ndarray | None]:
    """Head on cached backbone features, then optional end-to-end fine-tuning of the top backbone layers.

    Also returns the cached features of the (unaugmented) training inputs, or
    None once fine-tuning has changed the backbone they came from.
    """
    data, config = plan.data, plan.config
    backbone = build_backbone(name, data.x_train.shape[1:], weights=weights)
    head = build_head(backbone.output_shape[-1], data.num_classes, dropout=config.dropout)
    cache_started = time.perf_counter()
    train_features = cache_features(
        backbone,
        data.x_train,
        data.y_train,
        views=config.cache_views,
        augmenter=plan.augmenter,
        batch_size=config.batch_size,
    )
    val_features = (extract_features(backbone, data.x_val, batch_size=config.batch_size), data.y_val)
    cache_seconds = time.perf_counter() - cache_started
    log.info("%s: cached %d backbone feature rows in %.1f s", name, len(train_features[0]), cache_seconds)
    history, best = _fit(
        head,
        train_features,
        val_features,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        phase="train",
        first_epoch=1,
        **plan.common,
    )
    model = assemble(backbone, head, name=name)
    if config.fine_tune_epochs > 0:
        unfreeze_top(backbone, config.fine_tune_layers)
        tuned, best = _fit(
            model,
            plan.batches(),
            plan.val,
            epochs=config.fine_tune_epochs,
            learning_rate=config.fine_tune_learning_rate,
            phase="fine_tune",
            first_epoch=len(history) + 1,
            **plan.common,
        )
        history = pd.concat([history, tuned], ignore_index=True)
        return model, history, best, cache_seconds, None
    return model, history, best, cache_seconds, train_features[0][: len(data.x_train)]


def predict_outputs(model: keras.Model, x: Rows, *, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Every output of a dict-output model (`core.training.models.with_embedding`), read and predicted chunk by chunk.

    Inputs are uint8 images or float spectrograms, as training holds them.
    """
    outputs: dict[str, list[np.ndarray]] = {}
    for batch in _chunks(x, batch_size):
        for name, value in model(batch, training=False).items():
            outputs.setdefault(name, []).append(ops.convert_to_numpy(value).astype(np.float32))
    return {name: np.concatenate(chunks) for name, chunks in outputs.items()}
