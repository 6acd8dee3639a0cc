"""Training reads its inputs a batch at a time (tf.data), in a seeded order, and one seed gives one result."""

import keras
import numpy as np
import pytest

from core.config import TrainConfig
from core.training.augment import build_augmenter
from core.training.batches import batches
from core.training.devices import training_devices, visible_gpus
from core.training.fit import SplitData, channel_stats, extract_features, fit_model, predict_outputs
from core.training.models import build_backbone, build_custom_cnn, with_embedding


class CountingRows:
    """An array-like that allows only what training may use of a disk-backed input, and records each read's size."""

    def __init__(self, x: np.ndarray):
        self._x = x
        self.shape, self.dtype = x.shape, x.dtype
        self.sizes: list[int] = []
        self.refused: list[str] = []

    def __len__(self) -> int:
        return len(self._x)

    def __getitem__(self, index):
        allowed = isinstance(index, slice) or (isinstance(index, np.ndarray) and index.dtype.kind in "iu")
        if not allowed:
            self.refused.append(type(index).__name__)
        out = self._x[index]
        self.sizes.append(len(out))
        return out


def _numbered_images(n: int, size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Image i is filled with the value i, so a batch says which rows it holds."""
    x = np.repeat(np.arange(n, dtype=np.uint8), size * size * 3).reshape(n, size, size, 3)
    return x, np.arange(n)


def _epochs(dataset, count: int) -> list[tuple[list[int], np.ndarray]]:
    """Each epoch's labels in the order served, and its inputs."""
    served = []
    for _ in range(count):
        pairs = [(x.numpy(), y.numpy()) for x, y in dataset]
        served.append((np.concatenate([y for _, y in pairs]).tolist(), np.concatenate([x for x, _ in pairs])))
    return served


def test_training_batches_serve_every_row_once_per_epoch_in_a_seeded_order_reading_a_batch_at_a_time():
    x, y = _numbered_images(23)
    rows = CountingRows(x)
    keras.utils.set_random_seed(5)
    epochs = _epochs(batches(rows, y, batch_size=4, seed=5), 3)
    for labels, inputs in epochs:
        assert sorted(labels) == list(range(23))
        assert inputs.dtype == np.float32
        np.testing.assert_allclose(inputs[:, 0, 0, 0], np.array(labels) / 255.0)  # scaled like as_model_input
    assert epochs[0][0] != epochs[1][0] != epochs[2][0]  # a new order each epoch
    assert max(rows.sizes) <= 4 and not rows.refused
    keras.utils.set_random_seed(5)
    again = _epochs(batches(CountingRows(x), y, batch_size=4, seed=5), 3)
    assert [labels for labels, _ in again] == [labels for labels, _ in epochs]


def test_validation_batches_keep_the_order_and_augmentation_changes_only_training_inputs():
    x, y = _numbered_images(10, size=16)
    rows = CountingRows(x)
    [(labels, inputs)] = _epochs(batches(rows, y, batch_size=3), 1)
    assert labels == list(range(10)) and max(rows.sizes) <= 3
    np.testing.assert_allclose(inputs, x / 255.0)
    augmenter = build_augmenter("image", seed=0)
    keras.utils.set_random_seed(0)
    [(labels, augmented)] = _epochs(batches(x, y, batch_size=3, seed=0, augmenter=augmenter), 1)
    assert sorted(labels) == list(range(10)) and not np.allclose(augmented, x[labels] / 255.0)


def test_channel_stats_features_and_predictions_read_chunk_by_chunk(rng):
    x = (rng.random((37, 32, 32, 3)) * 255).astype(np.uint8)
    rows = CountingRows(x)
    mean, variance = channel_stats(rows, max_items=20, batch_size=8)
    sample = x[:: len(x) // 20].astype(np.float64) / 255
    np.testing.assert_allclose(mean, sample.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(variance, sample.var(axis=(0, 1, 2)), rtol=1e-5)
    backbone = build_backbone("mobilenet_v2", (32, 32, 3), weights=None)
    features = extract_features(backbone, rows, batch_size=8)
    model = with_embedding(build_custom_cnn((32, 32, 3), 2))
    outputs = predict_outputs(model, rows, batch_size=8)
    assert features.shape[0] == 37 and outputs["probabilities"].shape == (37, 2)
    assert max(rows.sizes) <= 8 and not rows.refused


def _task(rng, n: int) -> tuple[CountingRows, np.ndarray]:
    y = np.arange(n) % 2
    x = (rng.random((n, 16, 16, 3)) * 60).astype(np.uint8)
    x[y == 1, :8, :8] += 150
    return CountingRows(x), y


@pytest.mark.skipif(bool(visible_gpus()), reason="bit-identical training is promised on CPUs only")
def test_one_seed_gives_one_result_on_cpu_from_streamed_inputs(rng):
    x, y = _task(rng, 24)
    xv, yv = _task(rng, 8)
    config = TrainConfig(epochs=2, batch_size=8, patience=2, seed=3, augment="standard")
    first = fit_model("custom_cnn", SplitData(x, y, xv, yv, "image", 2), config)
    second = fit_model("custom_cnn", SplitData(x, y, xv, yv, "image", 2), config)
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    np.testing.assert_array_equal(first.history[columns].to_numpy(), second.history[columns].to_numpy())
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # Channel statistics, training and validation batches: never more than a batch at once.
    assert max(x.sizes) <= 8 and max(xv.sizes) <= 8
    assert not x.refused and not xv.refused
    assert first.devices == training_devices().to_dict() and first.devices["kind"] == "CPU"
