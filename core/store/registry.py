"""Which model the prediction app serves, and each model's saved operating point.

`ArtifactsLayout.registry` names the champion once someone has promoted one
(`python -m core promote RUN MODEL`, or the dashboard). Until then the
champion is the best model of the latest complete run by validation AUROC.
A model's `operating_point` file overrides the threshold and review band
chosen at training time. All writes are atomic.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InvalidInput, NotFound
from core.store import artifacts
from core.store.layout import ArtifactsLayout, RunLayout
from core.store.stamps import utc_now


def list_runs(artifacts_dir: Path) -> list[dict]:
    """Every run's status, newest first; unreadable status files show as state 'damaged'."""
    root = ArtifactsLayout(artifacts_dir).runs
    runs = []
    for folder in sorted(root.iterdir() if root.is_dir() else [], reverse=True):
        if not folder.is_dir():
            continue
        run = RunLayout(folder)
        try:
            status = artifacts.read_json_cached(run.status)
        except (OSError, ValueError) as exc:
            status = {"state": "damaged", "error": f"{run.status.name} unreadable ({type(exc).__name__})"}
        runs.append({**status, "run_id": run.run_id})
    return runs


def servable_models(artifacts_dir: Path, run_id: str) -> list[str]:
    """Completed models of a run that have an exported LiteRT file."""
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    try:
        completed = artifacts.read_json_cached(run.status).get("models_completed", [])
    except (OSError, ValueError):
        return []
    return [m for m in completed if run.model(m).tflite.is_file()]


def _val_auc(run: RunLayout, model: str) -> float:
    try:
        value = artifacts.read_json_cached(run.model(model).summary).get("val_auc")
    except (OSError, ValueError):
        return float("-inf")
    return float("-inf") if value is None else float(value)


def default_champion(artifacts_dir: Path) -> dict | None:
    """Best model by validation AUROC of the newest complete run, or None without one."""
    for run in list_runs(artifacts_dir):
        models = servable_models(artifacts_dir, run["run_id"]) if run.get("state") == "complete" else []
        if models:
            layout = ArtifactsLayout(artifacts_dir).run(run["run_id"])
            best = max(models, key=lambda m: _val_auc(layout, m))
            return {"run_id": run["run_id"], "model": best, "source": "default"}
    return None


def champion(artifacts_dir: Path) -> dict | None:
    """The promoted champion if it still exists, else the default one."""
    try:
        promoted = artifacts.read_json_cached(ArtifactsLayout(artifacts_dir).registry).get("champion")
    except (OSError, ValueError):
        promoted = None
    if promoted and promoted.get("model") in servable_models(artifacts_dir, promoted.get("run_id", "")):
        return {**promoted, "source": "promoted"}
    return default_champion(artifacts_dir)


def promote(artifacts_dir: Path, run_id: str, model: str, *, by: str = "cli") -> dict:
    """Make `run_id`/`model` the champion.

    Raises:
        NotFound: no such run, or the run has no servable model of that name.
    """
    layout = ArtifactsLayout(artifacts_dir)
    if not layout.run(run_id).dir.is_dir():
        raise NotFound(f"no run {run_id!r} in {layout.runs}")
    models = servable_models(artifacts_dir, run_id)
    if model not in models:
        raise NotFound(f"run {run_id} has no servable model {model!r}; it has {', '.join(models) or 'none'}")
    try:
        history = artifacts.read_json(layout.registry).get("history", [])
    except (OSError, ValueError):
        history = []
    entry = {"run_id": run_id, "model": model, "promoted_at": utc_now(), "by": by}
    artifacts.write_json(layout.registry, {"champion": entry, "history": [*history, entry]})
    return entry


def save_operating_point(
    run_dir: Path, model: str, *, threshold: float | None, review_band: tuple[float, float]
) -> dict:
    """Store the threshold and review band the predictor should use for this model.

    Raises:
        InvalidInput: the band or the threshold is outside [0, 1], or the band is reversed.
    """
    low, high = review_band
    if not 0 <= low <= high <= 1:
        raise InvalidInput(f"review band must satisfy 0 <= low <= high <= 1, got {review_band!r}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise InvalidInput(f"threshold must be in [0, 1], got {threshold!r}")
    point = {"threshold": threshold, "review_band": [low, high], "saved_at": utc_now()}
    artifacts.write_json(RunLayout(Path(run_dir)).model(model).operating_point, point)
    return point
