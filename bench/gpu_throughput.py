"""Training throughput (images/s) of the product's models on whatever device Keras' backend sees.

Usage:
    python -m bench.gpu_throughput [--models custom_cnn,mobilenet_v2] [--image-size 224]
        [--items 2560] [--batch-size 64] [--epochs 3] [--policies float32,mixed_float16,mixed_bfloat16]
        [--out PATH]

Builds each model with `core.training.models` (random weights) under each
dtype policy, trains it on synthetic [0, 1] images with Keras' `fit`, and
reports the median epoch's images/s after a warm-up fit that compiles the
step; `--resident-steps N` also times N steps on batches already on the
device (the model's own speed, without feeding it from host memory).
`custom_cnn` trains end to end; `mobilenet_v2` trains as the product
fine-tunes it (`unfreeze_top`, 20 layers), and its frozen-backbone feature
throughput (what `--cache-views` costs) is reported too.

It imports no TensorFlow of its own: with `KERAS_BACKEND=jax` it runs where
only JAX is installed (the GPU machine this was measured on), and
`JAX_PLATFORMS=cpu` gives the same machine's CPU as the baseline.
Writes one JSON record (`--out`, default bench/results/gpu_throughput.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import keras
import numpy as np

from core.training.devices import Devices, choose_precision, visible_gpus
from core.training.models import assemble, build_backbone, build_custom_cnn, build_head, unfreeze_top

FINE_TUNE_LAYERS = 20


class _EpochTimer(keras.callbacks.Callback):
    """Seconds per epoch."""

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def _build(name: str, size: int) -> tuple[keras.Model, keras.Model | None]:
    """The model to train, and for a transfer model its frozen backbone (for the feature throughput)."""
    if name == "custom_cnn":
        stats = (np.full(3, 0.5), np.full(3, 1 / 12))
        return build_custom_cnn((size, size, 3), 2, input_stats=stats), None
    backbone = build_backbone(name, (size, size, 3), weights=None)
    model = assemble(backbone, build_head(backbone.output_shape[-1], 2), name=name)
    return model, backbone


def _feature_rate(backbone: keras.Model, x: np.ndarray, batch_size: int) -> float:
    """Images/s of the frozen backbone's forward pass, as feature caching runs it (after one compiling call)."""
    backbone.predict(x[:batch_size], batch_size=batch_size, verbose=0)
    started = time.perf_counter()
    backbone.predict(x, batch_size=batch_size, verbose=0)
    return len(x) / (time.perf_counter() - started)


def _resident_rate(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int, steps: int) -> float:
    """Images/s of training steps on batches already on the device: the model's own speed, no input feeding.

    Each `train_on_batch` returns its loss as a Python number, so every step
    has finished when the clock stops.
    """
    batches = [
        (keras.ops.convert_to_tensor(x[i : i + batch_size]), keras.ops.convert_to_tensor(y[i : i + batch_size]))
        for i in range(0, 4 * batch_size, batch_size)
    ]
    model.train_on_batch(*batches[0])
    started = time.perf_counter()
    for step in range(steps):
        model.train_on_batch(*batches[step % len(batches)])
    return steps * batch_size / (time.perf_counter() - started)


def measure(
    name: str, policy: str, x: np.ndarray, y: np.ndarray, *, batch_size: int, epochs: int, resident_steps: int = 0
) -> dict:
    """One model under one dtype policy: median training images/s (and feature images/s for a backbone).

    With `resident_steps`, also the training images/s on batches kept on the device.
    """
    keras.utils.set_random_seed(0)
    with Devices("any", ("any",), policy, "default").scope():
        model, backbone = _build(name, x.shape[1])
        record = {"model": name, "policy": policy, "items": len(x), "batch_size": batch_size}
        if backbone is not None:
            record["feature_images_per_s"] = round(_feature_rate(backbone, x, batch_size), 1)
            unfreeze_top(backbone, FINE_TUNE_LAYERS)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
        started = time.perf_counter()
        model.fit(x[: 2 * batch_size], y[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)
        record["warm_up_seconds"] = round(time.perf_counter() - started, 2)
        timer = _EpochTimer()
        model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[timer], verbose=0)
        if resident_steps:
            record["resident_images_per_s"] = round(_resident_rate(model, x, y, batch_size, resident_steps), 1)
    record["epoch_seconds"] = [round(s, 3) for s in timer.seconds]
    record["train_images_per_s"] = round(len(x) / statistics.median(timer.seconds), 1)
    print(json.dumps(record), flush=True)
    return record


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="custom_cnn,mobilenet_v2")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--items", type=int, default=2560, help="images per epoch (a multiple of --batch-size)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs; the median is reported")
    parser.add_argument("--policies", default="float32,mixed_float16,mixed_bfloat16")
    parser.add_argument(
        "--resident-steps", type=int, default=0, help="also time this many steps on batches kept on the device"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "gpu_throughput.json")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    items = args.items - args.items % args.batch_size or args.batch_size  # no ragged last batch to compile again
    rng = np.random.default_rng(0)
    x = rng.random((items, args.image_size, args.image_size, 3), dtype=np.float32)
    y = (np.arange(items) % 2).astype(np.int32)
    gpus = visible_gpus()
    report = {
        "backend": keras.config.backend(),
        "devices": [gpu.name for gpu in gpus] or ["CPU"],
        "auto_precision": choose_precision("auto", gpus),
        "cpu_count": os.cpu_count(),
        "image_size": args.image_size,
        "results": [],
    }
    print(json.dumps({key: value for key, value in report.items() if key != "results"}), flush=True)
    for name in args.models.split(","):
        for policy in args.policies.split(","):
            try:
                options = {"batch_size": args.batch_size, "epochs": args.epochs, "resident_steps": args.resident_steps}
                report["results"].append(measure(name, policy, x, y, **options))
            except Exception as exc:  # one failing policy (say bfloat16 on an old GPU) must not lose the others
                report["results"].append({"model": name, "policy": policy, "error": str(exc)[:300]})
                print(f"{name} {policy}: {exc}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
