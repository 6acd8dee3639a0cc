"""Reading runs back for the dashboards: tolerant of damage, cached on file modification times.

Nothing here writes or trains, and nothing imports TensorFlow. A run whose
files are missing or unreadable comes back with `problems` filled in rather
than raising, so one damaged run never takes the others down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from core.store import artifacts
from core.store.artifacts import cached_read
from core.store.registry import list_runs

def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


@dataclass
class ModelResult:
    """One trained model's files, as far as they could be read."""

    name: str
    summary: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    history: pd.DataFrame | None = None
    test: pd.DataFrame | None = None
    test_windows: pd.DataFrame | None = None
    operating_point: dict | None = None

    @property
    def headline(self) -> dict:
        """The headline level's report ({} when the report is missing)."""
        return self.report.get("levels", {}).get(self.report.get("level"), {})


@dataclass
class Run:
    """A run as the dashboard sees it."""

    run_id: str
    path: Path
    status: dict
    class_names: list[str] = field(default_factory=list)
    positive_class: str | None = None
    audit: dict = field(default_factory=dict)
    split: pd.DataFrame | None = None
    preprocessing: dict = field(default_factory=dict)
    comparisons: list[dict] = field(default_factory=list)
    models: dict[str, ModelResult] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Whether the figures can use this run: complete, with at least one readable model."""
        return self.status.get("state") == "complete" and bool(self.models) and not self.problems

    @property
    def modality(self) -> str:
        return self.status.get("modality", "?")

    @property
    def is_binary(self) -> bool:
        return len(self.class_names) == 2 and self.positive_class is not None


def _read(run: Run, name: str, reader: Callable[[Path], Any], *, required: bool = True) -> Any:
    path = run.path / name
    try:
        return cached_read(path, reader)
    except FileNotFoundError:
        if required:
            run.problems.append(f"{name} is missing")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        run.problems.append(f"{name} is unreadable ({type(exc).__name__})")
    return None


def load_run(artifacts_dir: Path, run_id: str) -> Run:
    """Everything the dashboard shows about one run; problems are collected, not raised."""
    path = artifacts.runs_dir(artifacts_dir) / run_id
    run = Run(run_id=run_id, path=path, status={})
    run.status = _read(run, "status.json", artifacts.read_json) or {"state": "damaged"}
    if run.status.get("state") != "complete":
        run.problems.append(f"run is {run.status.get('state', 'unknown')}")
    classes = _read(run, "classes.json", artifacts.read_json) or {}
    run.class_names, run.positive_class = classes.get("class_names", []), classes.get("positive_class")
    run.audit = _read(run, "audit.json", artifacts.read_json) or {}
    run.split = _read(run, "split.csv", _csv)
    run.preprocessing = _read(run, "preprocessing.json", artifacts.read_json) or {}
    run.comparisons = _read(run, "comparisons.json", artifacts.read_json, required=False) or []
    for name in run.status.get("models_completed", []):
        folder = f"models/{name}/"
        result = ModelResult(
            name=name,
            summary=_read(run, folder + "summary.json", artifacts.read_json) or {},
            report=_read(run, folder + "report.json", artifacts.read_json) or {},
            history=_read(run, folder + "history.csv", _csv),
            test=_read(run, folder + "predictions_test.csv", _csv),
            test_windows=_read(run, folder + "predictions_test_windows.csv", _csv, required=False),
            operating_point=_read(run, folder + "operating_point.json", artifacts.read_json, required=False),
        )
        if result.report and result.history is not None and result.test is not None:
            run.models[name] = result
    return run


def run_choices(artifacts_dir: Path) -> list[dict]:
    """Runs for a selector, newest first: id, label, whether usable, and the warning if not."""
    choices = []
    for status in list_runs(artifacts_dir):
        run = load_run(artifacts_dir, status["run_id"])
        date = str(run.status.get("started", ""))[:16].replace("T", " ")
        models = ", ".join(run.status.get("models_completed") or run.status.get("models") or [])
        label = f"{run.status.get('dataset', '?')} · {run.modality} · {date} · {models or 'no models'}"
        warning = None if run.usable else "; ".join(run.problems) or "no readable model"
        choices.append({"run_id": run.run_id, "label": label, "usable": run.usable, "warning": warning})
    return choices


def training_metrics(artifacts_dir: Path) -> pd.DataFrame:
    """`training_metrics.csv`, or an empty frame with its columns when there is none."""
    try:
        return cached_read(artifacts.metrics_csv(artifacts_dir), _csv)
    except (OSError, ValueError, pd.errors.ParserError):
        return pd.DataFrame(columns=list(artifacts.METRICS_COLUMNS))
