"""Which model the prediction app serves, and each model's saved operating point.

`ARTIFACTS_DIR/registry.json` names the champion once someone has promoted
one (`python -m core promote RUN MODEL`, or the dashboard). Until then the
champion is the best model of the latest complete run by validation AUROC.
`models/<model>/operating_point.json` overrides the threshold and review
band chosen at training time. All writes are atomic.
"""

from __future__ import annotations

from pathlib import Path

from core.store import artifacts
from core.errors import CoreError

REGISTRY = "registry.json"
OPERATING_POINT = "operating_point.json"


def list_runs(artifacts_dir: Path) -> list[dict]:
    """Every run's status, newest first; unreadable status files show as state 'damaged'."""
    root = artifacts.runs_dir(artifacts_dir)
    runs = []
    for folder in sorted(root.iterdir() if root.is_dir() else [], reverse=True):
        if not folder.is_dir():
            continue
        try:
            status = artifacts.read_json_cached(folder / "status.json")
        except (OSError, ValueError) as exc:
            status = {"state": "damaged", "error": f"status.json unreadable ({type(exc).__name__})"}
        runs.append({**status, "run_id": folder.name})
    return runs


def servable_models(artifacts_dir: Path, run_id: str) -> list[str]:
    """Completed models of a run that have an exported LiteRT file."""
    run_dir = artifacts.runs_dir(artifacts_dir) / run_id
    try:
        completed = artifacts.read_json_cached(run_dir / "status.json").get("models_completed", [])
    except (OSError, ValueError):
        return []
    return [m for m in completed if (artifacts.model_dir(run_dir, m) / "model.tflite").is_file()]


def _val_auc(run_dir: Path, model: str) -> float:
    try:
        value = artifacts.read_json_cached(artifacts.model_dir(run_dir, model) / "summary.json").get("val_auc")
    except (OSError, ValueError):
        return float("-inf")
    return float("-inf") if value is None else float(value)


def default_champion(artifacts_dir: Path) -> dict | None:
    """Best model by validation AUROC of the newest complete run, or None without one."""
    for run in list_runs(artifacts_dir):
        models = servable_models(artifacts_dir, run["run_id"]) if run.get("state") == "complete" else []
        if models:
            run_dir = artifacts.runs_dir(artifacts_dir) / run["run_id"]
            best = max(models, key=lambda m: _val_auc(run_dir, m))
            return {"run_id": run["run_id"], "model": best, "source": "default"}
    return None


def champion(artifacts_dir: Path) -> dict | None:
    """The promoted champion if it still exists, else the default one."""
    path = Path(artifacts_dir) / REGISTRY
    try:
        promoted = artifacts.read_json_cached(path).get("champion")
    except (OSError, ValueError):
        promoted = None
    if promoted and promoted.get("model") in servable_models(artifacts_dir, promoted.get("run_id", "")):
        return {**promoted, "source": "promoted"}
    return default_champion(artifacts_dir)


def promote(artifacts_dir: Path, run_id: str, model: str, *, by: str = "cli") -> dict:
    """Make `run_id`/`model` the champion. Raises CoreError when it cannot be served."""
    if not (artifacts.runs_dir(artifacts_dir) / run_id).is_dir():
        raise CoreError(f"no run {run_id!r} in {artifacts.runs_dir(artifacts_dir)}")
    models = servable_models(artifacts_dir, run_id)
    if model not in models:
        raise CoreError(f"run {run_id} has no servable model {model!r}; it has {', '.join(models) or 'none'}")
    path = Path(artifacts_dir) / REGISTRY
    try:
        history = artifacts.read_json(path).get("history", [])
    except (OSError, ValueError):
        history = []
    entry = {"run_id": run_id, "model": model, "promoted_at": artifacts.utc_now(), "by": by}
    artifacts.write_json(path, {"champion": entry, "history": [*history, entry]})
    return entry


def save_operating_point(run_dir: Path, model: str, *, threshold: float | None, review_band: tuple[float, float]) -> dict:
    """Store the threshold and review band the predictor should use for this model."""
    low, high = review_band
    if not 0 <= low <= high <= 1:
        raise CoreError(f"review band must satisfy 0 <= low <= high <= 1, got {review_band!r}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise CoreError(f"threshold must be in [0, 1], got {threshold!r}")
    point = {"threshold": threshold, "review_band": [low, high], "saved_at": artifacts.utc_now()}
    artifacts.write_json(artifacts.model_dir(run_dir, model) / OPERATING_POINT, point)
    return point
