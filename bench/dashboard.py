"""Server-side time of the dashboard's learning-curve callback for a run of 5 models x 100 epochs.

Usage:
    python -m bench.dashboard [--models 5] [--epochs 100] [--repeats 30]

Trains one tiny real run (custom CNN, 1 epoch, synthetic audiograms) into a
temporary ARTIFACTS_DIR, then widens it to --models models of --epochs
epochs each: the model folder is copied under the other model names and
`training_metrics.csv` gets one row per model and epoch. The callback is
then called through Dash's HTTP endpoint (`/_dash-update-component`) with
Flask's test client, so the time includes reading the artifacts, building
the figure and serialising it: the process's first request, requests with
the file cache emptied (a run opened for the first time), and warm requests. Writes bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from flask.testing import FlaskClient

from bench.results_io import save
from core.config import TRANSFER_MODELS, DataOptions, TrainConfig
from core.settings import Settings
from core.store import artifacts
from core.store.layout import ArtifactsLayout


def _build(root: Path, n_models: int, epochs: int) -> tuple[str, list[str]]:
    from core.data.demo import generate_demo_data
    from core.inputs.preprocess import ImagePreprocessing
    from core.training.run import train_run

    folders = generate_demo_data(root / "data", per_class=12, seed=0)
    config = TrainConfig(models=("custom_cnn",), epochs=1, weights="none", flip="none", bootstrap_resamples=100)
    data = DataOptions(sources=(str(folders["audiograms"]),))
    run_id, _ = train_run(data, config, artifacts_dir=root, image=ImagePreprocessing(64))
    layout = ArtifactsLayout(root)
    run = layout.run(run_id)
    names = ["custom_cnn", *TRANSFER_MODELS, *[f"variant_{i}" for i in range(n_models)]][:n_models]
    for name in names[1:]:
        shutil.copytree(run.model("custom_cnn").dir, run.model(name).dir)
    status = artifacts.read_json(run.status)
    artifacts.write_json(run.status, {**status, "models": names, "models_completed": names})
    rng = np.random.default_rng(0)
    rows = [
        {"run_id": run_id, "model": name, "epoch": epoch, "accuracy": rng.random(), "loss": rng.random(),
         "val_accuracy": rng.random(), "val_loss": rng.random(), "learning_rate": 1e-3 / (1 + epoch // 30),
         "epoch_seconds": 1.0, "phase": "train"}
        for name in names for epoch in range(1, epochs + 1)
    ]  # fmt: skip
    layout.metrics_csv.unlink()
    artifacts.append_rows(layout.metrics_csv, rows, list(rows[0]))
    return run_id, names


def _payload(run_id: str, names: list[str]) -> dict:
    """The request Dash's front end sends when the run is chosen on the learning-curves tab."""
    from app_train_dashboard import ids

    return {
        "output": f"{ids.LEARNING_CURVE_GRAPH}.figure",
        "outputs": {"id": ids.LEARNING_CURVE_GRAPH, "property": "figure"},
        "inputs": [
            {"id": ids.RUN_SELECT, "property": "value", "value": run_id},
            {"id": ids.MODEL_CHECKLIST, "property": "value", "value": names},
            {"id": ids.COMPARE_SELECT, "property": "value", "value": None},
            {"id": ids.CURVE_METRIC, "property": "value", "value": "accuracy"},
            {"id": ids.CURVE_LOG, "property": "value", "value": []},
        ],
        "changedPropIds": [f"{ids.RUN_SELECT}.value"],
        "state": [],
    }


def _timed(client: FlaskClient, payload: dict, *, cold_files: bool) -> tuple[float, int]:
    """Milliseconds of one callback request, and the number of traces in the figure it returned."""
    if cold_files:
        artifacts.clear_cache()  # as when a run is opened for the first time
    started = time.perf_counter()
    response = client.post("/_dash-update-component", json=payload)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"callback failed: {response.status_code} {response.data[:300]!r}")
    return elapsed * 1000, len(response.get_json()["response"][payload["outputs"]["id"]]["figure"]["data"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    run_id, names = _build(root, args.models, args.epochs)

    from app_train_dashboard.factory import create_app

    client = create_app(Settings(artifacts_dir=root)).server.test_client()
    payload = _payload(run_id, names)
    first, traces = _timed(client, payload, cold_files=True)
    cold = [_timed(client, payload, cold_files=True)[0] for _ in range(args.repeats)]
    warm = [_timed(client, payload, cold_files=False)[0] for _ in range(args.repeats)]
    record = {
        "models": len(names),
        "epochs": args.epochs,
        "traces": traces,
        "first_request_of_process_ms": round(first, 1),
        "cold_files_median_ms": round(statistics.median(cold), 1),
        "cold_files_max_ms": round(max(cold), 1),
        "warm_median_ms": round(statistics.median(warm), 1),
        "warm_max_ms": round(max(warm), 1),
    }
    save("dashboard", record)


if __name__ == "__main__":
    main()
