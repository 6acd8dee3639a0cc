"""Peak memory and epoch time of a training run as the dataset grows: the input cache against in-memory stacking.

For each size, a fresh subprocess (so peaks never mix) runs a whole
`train_run` of `custom_cnn` for one epoch (and, as every run does, the
baseline first) on generated 224 px JPEGs, with a fresh input cache, and
reports its own peak RSS (`ru_maxrss`), the custom_cnn epoch time from its
history, and the wall time. For the sizes in `--memory-sizes` another
subprocess does what training did before the cache: decode every image into
one stacked uint8 array and copy out the training and validation rows
(`x[rows]`); its peak RSS is a lower bound for the old path, which then also trained.

    python -m bench.scale --sizes 5000,20000,50000 --memory-sizes 5000,20000

Images: two classes (a bright disc or a bright square at a random place, on
random smooth colour and per-pixel noise, so no two files are alike),
generated once for the largest size; each size is a folder of hard links to
the first N per class. Everything generated is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.results_io import save

CLASSES = ("disc", "square")


def _image(index: int, label: int, size: int) -> Image.Image:
    """One unique synthetic image of class `label`."""
    rng = np.random.default_rng(index)
    base = rng.uniform(40, 160, 3) + np.linspace(0, rng.uniform(-40, 40), size)[:, None, None]
    pixels = np.broadcast_to(base, (size, size, 3)) + rng.normal(0, 12, (size, size, 3))
    centre, radius = rng.uniform(0.3, 0.7, 2) * size, rng.uniform(0.08, 0.18) * size
    yy, xx = np.mgrid[:size, :size]
    if label == 0:
        shape = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius**2
    else:
        shape = (np.abs(yy - centre[0]) < radius) & (np.abs(xx - centre[1]) < radius)
    pixels[shape] += 70
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def generate(root: Path, count: int, size: int) -> list[Path]:
    """`count` JPEGs, alternating classes, written in parallel threads (Pillow's encoder releases the GIL)."""
    from core.store import artifacts
    from core.training.encode import thread_map

    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)

    def write(index: int) -> Path:
        path = root / CLASSES[index % 2] / f"{index:06d}.jpg"
        if not path.exists():
            artifacts.atomic_write(path, lambda tmp: _image(index, index % 2, size).save(tmp, quality=90))
        return path

    return thread_map(write, range(count))


def subset(paths: list[Path], count: int, folder: Path) -> Path:
    """A dataset folder of hard links to the first `count` images (regular files, as the audit requires)."""
    for path in paths[:count]:
        target = folder / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    return folder


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cap_keras_steps(steps: int) -> None:
    """Make every Keras `fit` in this process stop each epoch (and its validation) after `steps` batches.

    A bench-only cap, for sizes whose whole CPU epoch would not finish in the
    time there is; the table says which rows ran capped. Everything else in
    the run (preprocessing into the cache, the baseline, predicting validation
    and test) still covers every item.
    """
    import keras

    fit = keras.Model.fit

    def capped(model, *args, **kwargs):
        return fit(model, *args, **{**kwargs, "steps_per_epoch": steps, "validation_steps": steps})

    keras.Model.fit = capped


def child_run(data: Path, work: Path, batch_size: int, steps: int | None) -> dict:
    """One whole training run with the input cache; what the parent reports."""
    import pandas as pd

    from core.config import DataOptions, TrainConfig
    from core.inputs.preprocess import ImagePreprocessing
    from core.store.layout import ArtifactsLayout
    from core.training.run import train_run

    if steps:
        cap_keras_steps(steps)
    config = TrainConfig(
        models=("custom_cnn",), epochs=1, batch_size=batch_size, weights="none", flip="none", bootstrap_resamples=200
    )
    started = time.perf_counter()
    run_id, _ = train_run(
        DataOptions(sources=(str(data),)),
        config,
        artifacts_dir=work / "artifacts",
        image=ImagePreprocessing(image_size=224),
        input_cache=work / "input-cache",
    )
    history = pd.read_csv(ArtifactsLayout(work / "artifacts").run(run_id).model("custom_cnn").history)
    train_steps = -(-int(0.7 * len(list(data.rglob("*.jpg")))) // batch_size)
    return {
        "steps": min(steps or train_steps, train_steps),
        "epoch_steps": train_steps,
        "epoch_seconds": float(history["epoch_seconds"].iloc[0]),
        "run_seconds": time.perf_counter() - started,
        "cache_mb": sum(path.stat().st_size for path in (work / "input-cache").rglob("*")) / 2**20,
    }


def child_pipeline(data: Path, work: Path, batch_size: int, steps: int | None) -> dict:
    """The streamed training path without the baseline: cache every file, fit custom_cnn, predict val and test.

    For sizes whose whole run (the baseline's features cost about 20-40 ms per
    224 px image on this machine) would not finish in the time there is.
    """
    from core.config import TrainConfig
    from core.data.audit import audit_dataset
    from core.data.dataset import load_dataset
    from core.inputs.preprocess import ImagePreprocessing
    from core.training.encode import encode
    from core.training.fit import SplitData, fit_model, predict_outputs
    from core.training.models import with_embedding

    if steps:
        cap_keras_steps(steps)
    started = time.perf_counter()
    _, usable, hashes = audit_dataset(load_dataset([data]))
    labels = np.array([CLASSES.index(item.label) for item in usable])
    split = np.random.default_rng(0).choice(["train", "val", "test"], p=[0.7, 0.15, 0.15], size=len(usable))
    x = encode(usable, ImagePreprocessing(image_size=224), cache_dir=work / "input-cache", hashes=hashes).x
    parts = {part: np.flatnonzero(split == part) for part in ("train", "val", "test")}
    data_split = SplitData(
        x.subset(parts["train"]), labels[parts["train"]], x.subset(parts["val"]), labels[parts["val"]], "image", 2
    )
    config = TrainConfig(
        models=("custom_cnn",), epochs=1, batch_size=batch_size, weights="none", flip="none", augment="standard"
    )
    result = fit_model("custom_cnn", data_split, config)
    model = with_embedding(result.model)
    predicted = sum(len(predict_outputs(model, x.subset(parts[part]))["embedding"]) for part in ("val", "test"))
    train_steps = -(-len(parts["train"]) // batch_size)
    return {
        "steps": min(steps or train_steps, train_steps),
        "epoch_steps": train_steps,
        "epoch_seconds": float(result.history["epoch_seconds"].iloc[0]),
        "predicted": predicted,
        "run_seconds": time.perf_counter() - started,
    }


def child_memory(data: Path) -> dict:
    """What training held before the cache: every image stacked, then the training and validation rows copied."""
    from core.data.dataset import load_dataset
    from core.inputs.preprocess import ImagePreprocessing, load_image
    from core.training.encode import thread_map

    started = time.perf_counter()
    params = ImagePreprocessing(image_size=224)
    items = load_dataset([data]).items
    x = np.stack(thread_map(lambda item: load_image(item.path, params), items))
    order = np.random.default_rng(0).permutation(len(x))
    train, val = x[order[: int(0.7 * len(x))]], x[order[int(0.7 * len(x)) : int(0.85 * len(x))]]
    return {
        "stacked_mb": x.nbytes / 2**20,
        "split_mb": (train.nbytes + val.nbytes) / 2**20,
        "run_seconds": time.perf_counter() - started,
    }


def _child(args: argparse.Namespace) -> None:
    """Run one measurement in this (fresh) process and print it as the last line of stdout."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    data, work = Path(args.data), Path(args.work)
    if args.child == "memory":
        result = child_memory(data)
    else:
        child = child_run if args.child == "cache" else child_pipeline
        result = child(data, work, args.batch_size, args.steps)
    print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))


def measure(mode: str, data: Path, work: Path, batch_size: int, steps: int | None) -> dict:
    """One measurement in a fresh subprocess; `error` when it failed (its stderr went to ours)."""
    command = [sys.executable, "-m", "bench.scale", "--child", mode, "--data", str(data), "--work", str(work)]
    command += ["--batch-size", str(batch_size), *(["--steps", str(steps)] if steps else [])]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"exit status {done.returncode}"}
    return json.loads(lines[-1])


def _table(rows: list[dict]) -> str:
    """The markdown table docs/benchmarks.md shows."""
    lines = [
        "| items | path | peak RSS (MiB) | custom_cnn steps run / epoch | their seconds | whole run (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        steps = f"{row['steps']} / {row['epoch_steps']}" if "steps" in row else "-"
        epoch = f"{row['epoch_seconds']:.0f}" if "epoch_seconds" in row else "-"
        rss = f"{row['peak_rss_mb']:.0f}" if "peak_rss_mb" in row else row.get("error", "-")
        run = f"{row.get('run_seconds', 0):.0f}"
        lines.append(f"| {row['items']} | {row['mode']} | {rss} | {steps} | {epoch} | {run} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5000,20000,50000", help="dataset sizes for whole cached runs")
    parser.add_argument("--memory-sizes", default="5000,20000", help="sizes for the in-memory stacking comparison")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, help="cap each custom_cnn epoch (and its validation) at N batches")
    parser.add_argument("--results", default="scale", help="bench/results/<name>.json (default: scale)")
    parser.add_argument("--child", choices=("cache", "pipeline", "memory"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--pipeline", action="store_true", help="cached sizes run the streamed path without the baseline (faster)"
    )
    parser.add_argument("--pool", help="keep and reuse the generated images in this folder (default: a temporary one)")
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    sizes = [int(n) for n in args.sizes.split(",") if n]
    memory_sizes = [int(n) for n in args.memory_sizes.split(",") if n]
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows = []
    try:
        started = time.perf_counter()
        pool = generate(Path(args.pool) if args.pool else root / "pool", max(sizes + memory_sizes), 224)
        print(f"generated {len(pool)} images in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for size in sorted(set(sizes + memory_sizes)):
            data = subset(pool, size, root / f"data-{size}")
            cached = "pipeline" if args.pipeline else "cache"
            for mode in [m for m, chosen in (("memory", memory_sizes), (cached, sizes)) if size in chosen]:
                result = measure(mode, data, root / f"work-{size}", args.batch_size, args.steps)
                rows.append({"items": size, "mode": mode, **result})
                print(_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
                _save(args.results, rows, args.steps)
                shutil.rmtree(root / f"work-{size}", ignore_errors=True)
            shutil.rmtree(data)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _save(name: str, rows: list[dict], steps: int | None) -> None:
    """Write the results so far (a long benchmark keeps what it measured if it is stopped)."""
    cached = [row for row in rows if row["mode"] != "memory" and "peak_rss_mb" in row]
    growth = cached[-1]["peak_rss_mb"] / cached[0]["peak_rss_mb"] - 1 if len(cached) > 1 else None
    record = {"cpu_count": os.cpu_count(), "steps_cap": steps, "rows": rows, "cached_rss_growth": growth}
    save(name, {**record, "table": _table(rows)})


if __name__ == "__main__":
    main()
