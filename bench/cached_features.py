"""Epoch time of a frozen VGG16 at 224x224: plain fit versus head training on cached features.

Usage:
    python -m bench.cached_features [--items 96] [--views 5] [--plain-epochs 2] [--cached-epochs 5]

Both fits train the same frozen backbone + head on the same items with the
same augmentation. The plain fit runs every augmented batch through VGG16
each epoch; the cached fit computes the backbone features of `--views` views
of every item once and trains the head on them. Images come from
../shared/data/throat-photos-dev when present, else from the synthetic
audiograms. Weights are random (timing does not depend on their values).
Writes bench/results/cached_features.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from bench.results_io import save
from core.config import TrainConfig
from core.data.dataset import load_dataset
from core.data.demo import generate_demo_data
from core.inputs.preprocess import ImagePreprocessing
from core.training.augment import build_augmenter
from core.training.batches import batches
from core.training.encode import encode
from core.training.fit import EpochRecorder, cache_features
from core.training.models import assemble, build_backbone, build_head

THROAT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "throat-photos-dev"


def _images(count: int, size: int) -> tuple[np.ndarray, np.ndarray, str]:
    if THROAT.exists():
        source, name = THROAT, "throat-photos-dev"
    else:
        name = "synthetic-audiograms"
        source = generate_demo_data(Path(tempfile.mkdtemp()), per_class=count // 3 + 1)["audiograms"]
    dataset = load_dataset([source])
    items = [dataset.items[i] for i in np.random.default_rng(0).permutation(len(dataset.items))[:count]]
    classes = sorted({item.label for item in items})
    labels = np.array([classes.index(item.label) for item in items])
    return encode(items, ImagePreprocessing(image_size=size), cache_dir=None).x, labels, name


def _epoch_seconds(model: keras.Model, x, y, *, epochs: int, batch_size: int) -> list[float]:
    recorder = EpochRecorder("train", 1, None)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=batch_size if y is not None else None, callbacks=[recorder], verbose=0)
    return [row["epoch_seconds"] for row in recorder.rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=96)
    parser.add_argument("--views", type=int, default=TrainConfig().cache_views)
    parser.add_argument("--plain-epochs", type=int, default=2)
    parser.add_argument("--cached-epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    x, y, source = _images(args.items, 224)
    num_classes = int(y.max()) + 1
    augmenter = build_augmenter("image", seed=0)
    backbone = build_backbone("vgg16", (224, 224, 3), weights=None)

    keras.utils.set_random_seed(0)
    plain_model = assemble(backbone, build_head(backbone.output_shape[-1], num_classes), name="vgg16_plain")
    plain = _epoch_seconds(
        plain_model,
        batches(x, y, batch_size=args.batch_size, seed=0, augmenter=augmenter),
        None,
        epochs=args.plain_epochs,
        batch_size=args.batch_size,
    )

    started = time.perf_counter()
    features, labels = cache_features(backbone, x, y, views=args.views, augmenter=augmenter, batch_size=args.batch_size)
    cache_seconds = time.perf_counter() - started
    keras.utils.set_random_seed(0)
    cached = _epoch_seconds(
        build_head(backbone.output_shape[-1], num_classes),
        features,
        labels,
        epochs=args.cached_epochs,
        batch_size=args.batch_size,
    )

    plain_epoch = statistics.median(plain[1:] or plain)
    cached_epoch = statistics.median(cached[1:] or cached)
    epochs = TrainConfig().epochs
    record = {
        "source": source,
        "items": len(x),
        "views": args.views,
        "cpu_cores": os.cpu_count(),
        "plain_epoch_seconds": plain,
        "cached_epoch_seconds": cached,
        "cache_build_seconds": round(cache_seconds, 2),
        "epoch_ratio": round(plain_epoch / cached_epoch, 1),
        f"total_ratio_{epochs}_epochs": round(epochs * plain_epoch / (cache_seconds + epochs * cached_epoch), 1),
    }
    save("cached_features", record)


if __name__ == "__main__":
    main()
