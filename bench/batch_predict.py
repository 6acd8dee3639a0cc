"""Batch prediction throughput against looping the single-file paths, in one run.

Usage:
    python -m bench.batch_predict [--data ../shared/data/heart-sounds-dev] [--cli-files 10]

Trains a one-epoch custom CNN on --data (the model's quality is not the
point), then predicts every file of --data four ways and reports files/s:
- `cli_per_file`: `python -m core predict FILE` once per file, what a user
  had before batch prediction (timed on --cli-files files: it is slow);
- `loop`: one process calling `Predictor.predict` file after file (what
  `python -m core predict A B C ...` does);
- `batch_1`, `batch_N`: `predict_batch` with 1 and N worker processes.
Writes bench/results/batch_predict.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results_io import save
from core.serving.batch import BatchModel, folder_inputs, predict_batch
from core.serving.service import PredictionService, model_key
from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def _train(data: Path, artifacts: Path) -> str:
    from core.config import DataOptions, TrainConfig
    from core.training.run import train_run

    config = TrainConfig(models=("custom_cnn",), epochs=1, weights="none", bootstrap_resamples=100)
    run_id, _ = train_run(DataOptions(sources=(str(data),)), config, artifacts_dir=artifacts)
    return run_id


def _rate(count: int, seconds: float) -> dict:
    return {"files": count, "seconds": round(seconds, 2), "files_per_s": round(count / seconds, 2)}


def _cli_per_file(paths: list[Path], artifacts: Path, run_id: str) -> dict:
    env = {**os.environ, "ARTIFACTS_DIR": str(artifacts)}
    start = time.perf_counter()
    for path in paths:
        command = [sys.executable, "-m", "core", "predict", str(path), "--run", run_id, "--model", "custom_cnn"]
        subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    return _rate(len(paths), time.perf_counter() - start)


def _loop(paths: list[Path], service: PredictionService, key: str) -> dict:
    predictor = service.predictor(key)
    point = service.operating_point(predictor)
    start = time.perf_counter()
    for path in paths:
        predictor.predict(path, operating_point=point)
    return _rate(len(paths), time.perf_counter() - start)


def _batch(data: Path, model: BatchModel, classes: list[str], out: Path, workers: int) -> dict:
    inputs = folder_inputs(data)
    start = time.perf_counter()
    counts = predict_batch(inputs, out, model, classes, workers=workers)
    return _rate(len(inputs), time.perf_counter() - start) | {"refused": counts["refused"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "heart-sounds-dev")
    parser.add_argument("--cli-files", type=int, default=10)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    artifacts = root / "artifacts"
    run_id = _train(args.data, artifacts)
    service = PredictionService(Settings(artifacts_dir=artifacts))
    predictor = service.predictor(model_key(run_id, "custom_cnn"))
    model = BatchModel(service.settings, run_id, "custom_cnn", service.operating_point(predictor))
    paths = [item.path for item in folder_inputs(args.data)]
    record = {"data": args.data.name, "files": len(paths), "cores": len(os.sched_getaffinity(0))}
    record["cli_per_file"] = _cli_per_file(paths[: args.cli_files], artifacts, run_id)
    record["loop"] = _loop(paths, service, model_key(run_id, "custom_cnn"))
    record["batch_1"] = _batch(args.data, model, predictor.class_names, root / "batch_1.csv", 1)
    record[f"batch_{args.workers}"] = _batch(
        args.data, model, predictor.class_names, root / f"batch_{args.workers}.csv", args.workers
    )
    best = record[f"batch_{args.workers}"]["files_per_s"]
    record["speedup_vs_loop"] = round(best / record["loop"]["files_per_s"], 2)
    record["speedup_vs_cli_per_file"] = round(best / record["cli_per_file"]["files_per_s"], 1)
    save("batch_predict", record)


if __name__ == "__main__":
    main()
