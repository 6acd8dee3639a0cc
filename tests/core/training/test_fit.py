import math

import keras
import numpy as np
import pytest

from core.config import TrainConfig
from core.training.augment import build_augmenter
from core.training.fit import SplitData, cache_features, class_weights, extract_features, fit_model, pairwise_auroc_loss
from core.training.models import build_backbone


def test_pairwise_auroc_loss_matches_a_hand_computation():
    y = np.array([1, 0, 0], dtype="float32")
    p1 = np.array([0.8, 0.5, 0.2], dtype="float32")
    probs = np.stack([1 - p1, p1], axis=1)
    per_item = np.asarray(pairwise_auroc_loss(y, probs))
    score = np.log(p1) - np.log(1 - p1)
    pair = [math.log1p(math.exp(-(score[0] - score[j]))) for j in (1, 2)]
    np.testing.assert_allclose(per_item, [sum(pair) / 2, pair[0], pair[1]], rtol=1e-4)


def test_pairwise_auroc_loss_falls_as_ranking_improves():
    y = np.array([1, 1, 0, 0], dtype="float32")
    good = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [0.8, 0.2]], dtype="float32")
    bad = good[::-1].copy()
    assert float(np.mean(pairwise_auroc_loss(y, good))) < float(np.mean(pairwise_auroc_loss(y, bad)))
    single_class = np.asarray(pairwise_auroc_loss(np.ones(4, "float32"), good))
    np.testing.assert_allclose(single_class, 0.0)


def test_class_weights_balance_rare_classes():
    weights = class_weights(np.array([0] * 8 + [1] * 2), 3)
    assert weights[1] == pytest.approx(4 * weights[0])
    assert weights[2] == 1.0  # absent from training: neutral


def test_cached_features_equal_the_backbone_output_and_add_augmented_views(rng):
    backbone = build_backbone("mobilenet_v2", (32, 32, 3), weights=None)
    x = (rng.random((5, 32, 32, 3)) * 255).astype(np.uint8)
    plain = extract_features(backbone, x, batch_size=2)
    direct = backbone.predict(x.astype("float32") / 255.0, verbose=0)
    np.testing.assert_allclose(plain, direct, rtol=1e-4, atol=1e-5)
    features, labels = cache_features(
        backbone, x, np.arange(5), views=3, augmenter=build_augmenter("image", seed=0), batch_size=2
    )
    assert features.shape == (15, plain.shape[1]) and labels.tolist() == list(range(5)) * 3
    np.testing.assert_allclose(features[:5], plain, rtol=1e-4, atol=1e-5)


def _separable_images(rng, n):
    y = np.arange(n) % 2
    x = (rng.random((n, 32, 32, 3)) * 60).astype(np.uint8)
    x[y == 1, :16, :16] += 150  # class 1 is bright in the top-left corner
    return x, y


@pytest.mark.parametrize("loss", ["cross_entropy", "auroc"])
def test_custom_cnn_learns_a_separable_task_and_reports_each_epoch(rng, loss):
    x, y = _separable_images(rng, 64)
    xv, yv = _separable_images(rng, 16)
    rows = []
    config = TrainConfig(
        epochs=8, batch_size=16, learning_rate=3e-3, patience=8, loss=loss, flip="none", augment="standard"
    )
    result = fit_model("custom_cnn", SplitData(x, y, xv, yv, "image", 2), config, on_epoch=rows.append)
    assert [row["epoch"] for row in rows] == list(range(1, len(rows) + 1))
    assert set(rows[0]) >= {"accuracy", "loss", "val_accuracy", "val_loss", "learning_rate", "epoch_seconds"}
    assert 1 <= result.best_epoch <= len(rows)
    assert list(result.history["epoch"]) == [row["epoch"] for row in rows]
    probs = result.model.predict(xv.astype("float32") / 255, verbose=0)
    assert (probs.argmax(axis=1) == yv).mean() >= 0.85


def test_transfer_model_trains_its_head_on_cached_features_then_fine_tunes(rng):
    x, y = _separable_images(rng, 32)
    config = TrainConfig(
        epochs=2, batch_size=16, cache_views=2, fine_tune_epochs=1, fine_tune_layers=3, augment="standard"
    )
    result = fit_model("mobilenet_v2", SplitData(x, y, x[:8], y[:8], "image", 2), config, weights=None)
    assert result.history["phase"].tolist() == ["train", "train", "fine_tune"]
    assert result.history["epoch"].tolist() == [1, 2, 3]
    assert result.cache_seconds > 0
    trainable = {w.path for w in result.model.trainable_weights}
    assert any("predictions" in path for path in trainable)
    assert len(trainable) > 2  # top backbone layers were unfrozen
    assert not any("bn" in path.lower() and "head" not in path for path in trainable)
    assert isinstance(result.model, keras.Model)
