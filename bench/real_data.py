"""Train on the real datasets in ../shared/data and report per-model test figures.

Usage:
    python -m bench.real_data heart [--models custom_cnn] [--epochs 30]
    python -m bench.real_data throat [--models custom_cnn,mobilenet_v2] [--image-size 160]
    python -m bench.real_data heart --models baseline       # the baseline alone: a minute or two
    python -m bench.real_data heart --models baseline --cv 5   # grouped 5-fold CV: out-of-fold figures

Every run trains the baseline (hand-crafted features + gradient boosting)
first, and says per model whether it significantly beats it.

With `--cv K` every figure is out-of-fold over the whole set (threshold-
dependent ones cross-fitted; `core.training.cv`) and `train_seconds` is the
sum of the K fits. Writes bench/results/real_data_<dataset>[_cvK_<models>].json and prints a Markdown table for
docs/benchmarks.md. Offline, transfer models get random backbone weights
(`--weights none`) unless a local weights folder is passed.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

from bench.results_io import save
from core.config import DataOptions, TrainConfig
from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing
from core.training.run import train_run

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = {
    "heart": DataOptions(sources=(str(SHARED / "heart-sounds-dev"),), name="heart-sounds-dev"),
    "throat": DataOptions(
        sources=(str(SHARED / "throat-photos-dev"),),
        name="throat-photos-dev",
        group_pattern=r"^(.*?)_(?:jpg|jpeg|JPG)\.rf\.",
    ),
}
COLUMNS = (
    "model",
    "level",
    "test_n",
    "test_auc",
    "test_auc_low",
    "test_auc_high",
    "test_balanced_accuracy",
    "test_balanced_accuracy_low",
    "test_balanced_accuracy_high",
    "test_sens_at_90_spec",
    "test_sens_at_90_spec_low",
    "test_sens_at_90_spec_high",
    "test_sensitivity",
    "test_specificity",
    "no_evidence_of_skill",
    "beats_baseline",
    "best_epoch",
    "train_seconds",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--models", default="custom_cnn")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--weights", default="none")
    parser.add_argument("--loss", default="cross_entropy")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cv", type=int, default=None, help="grouped K-fold cross-validation (default: one split)")
    parser.add_argument("--artifacts", default="bench/results/artifacts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    data = replace(DATASETS[args.dataset], cv=args.cv)
    if not Path(data.sources[0]).exists():
        raise SystemExit(f"error: {data.sources[0]} not found; the real-data benchmarks need ../shared/data")
    config = TrainConfig(
        models=tuple(args.models.split(",")), epochs=args.epochs, weights=args.weights, loss=args.loss, seed=args.seed
    )
    started = time.perf_counter()
    run_id, results = train_run(
        data,
        config,
        artifacts_dir=Path(args.artifacts),
        image=ImagePreprocessing(image_size=args.image_size),
        sound=SoundPreprocessing(),
    )
    total = time.perf_counter() - started
    record = {
        "dataset": args.dataset,
        "run_id": run_id,
        "cpu_cores": os.cpu_count(),
        "total_seconds": round(total, 1),
        "args": vars(args),
        "results": results.to_dict(orient="records"),
    }
    save(f"real_data_{args.dataset}" + (f"_cv{args.cv}_{args.models.replace(',', '+')}" if args.cv else ""), record)
    what = f"out-of-fold figures ({args.cv}-fold CV)" if args.cv else "test-split figures"
    print(f"\n{args.dataset}: run {run_id}, {what}, {total / 60:.1f} min in all on {os.cpu_count()} cores\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    for row in results.to_dict(orient="records"):
        cells = [row.get(c) for c in COLUMNS]
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells) + " |")
    for text in results["versus_baseline"].dropna():
        print(f"- {text}")


if __name__ == "__main__":
    main()
