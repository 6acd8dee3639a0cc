"""The `tf.data` batches that feed training, read from memory or from disk.

Training inputs may live on disk: `batches` reads only the rows of one batch
at a time from anything indexable like an array (`Rows`), so memory does not
grow with the dataset, and prefetches the next batches while the model
trains on the current one.
"""

from __future__ import annotations

from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from core.inputs.preprocess import as_model_input


class Rows(Protocol):
    """What training reads inputs from: a NumPy array, or a disk-backed array-like of the same shape.

    Only these are used: `x[int array]` and `x[a:b]` (`x[::k]` is allowed
    too), each returning a NumPy array (uint8 images or float32
    spectrograms), `len(x)`, `x.shape` and `x.dtype`.
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    def __len__(self) -> int: ...

    def __getitem__(self, index) -> np.ndarray: ...


def batches(
    x: Rows,
    y: np.ndarray,
    *,
    batch_size: int,
    seed: int | None = None,
    augmenter: keras.Model | None = None,
) -> tf.data.Dataset:
    """(inputs, labels) batches as float32 model inputs, read from `x` one batch of rows at a time.

    Args:
        x: Inputs as training holds them (uint8 images or float32 spectrograms).
        y: Integer labels, in memory.
        batch_size: Rows per batch; the last batch may be smaller.
        seed: Shuffle every epoch, in the sequence of orders this seed gives
            (one seed, one training); None keeps the order (validation).
        augmenter: Applied to each training batch, in order: its random
            stream is a state, so one map call at a time keeps it seeded.

    Each batch's rows are read sorted (`x[sorted rows]`), which a disk-backed
    array reads faster; the model sees the batch in that order.
    """
    labels = np.asarray(y)
    order = tf.data.Dataset.range(len(x))
    if seed is not None:
        order = order.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)

    def read(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(rows)
        return as_model_input(x[rows]).astype(np.float32, copy=False), labels[rows]

    def load(rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        inputs, targets = tf.numpy_function(read, [rows], [tf.float32, tf.as_dtype(labels.dtype)], stateful=False)
        inputs.set_shape((None, *x.shape[1:]))
        targets.set_shape((None,))
        return inputs, targets

    data = order.batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augmenter is not None:
        data = data.map(lambda inputs, targets: (augmenter(inputs, training=True), targets))
    return data.prefetch(tf.data.AUTOTUNE)
