"""Reading runs back for the dashboards: tolerant of damage, cached on file modification times.

Nothing here writes or trains, and nothing imports TensorFlow. A run whose
files are missing or unreadable comes back with `problems` filled in rather
than raising, so one damaged run never takes the others down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import CoreError
from core.store import artifacts, remote
from core.store.artifacts import cached_read
from core.store.layout import ArtifactsLayout, ModelLayout
from core.store.registry import list_runs
from core.store.run_writer import METRICS_COLUMNS


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

    @property
    def headline(self) -> dict:
        """The headline level's report ({} when the report is missing)."""
        return self.report.get("levels", {}).get(self.report.get("level"), {})

    @property
    def blend_parts(self) -> list[str]:
        """The models a blend averages (its report's `blend`), or [] for a model that was trained.

        A blend is fitted from its parts' probabilities, not trained: it has
        no history.csv, no epochs and no learning curve of its own.
        """
        return list((self.report.get("blend") or {}).get("parts") or [])


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
    config: dict = field(default_factory=dict)
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


def _read(run: Run, path: Path, reader: Callable[[Path], Any], *, required: bool = True) -> Any:
    name = path.relative_to(run.path).as_posix()
    try:
        return cached_read(path, reader)
    except FileNotFoundError:
        if required:
            run.problems.append(f"{name} is missing")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        run.problems.append(f"{name} is unreadable ({type(exc).__name__})")
    return None


def _read_model(run: Run, name: str, files: ModelLayout) -> ModelResult:
    result = ModelResult(
        name=name,
        summary=_read(run, files.summary, artifacts.read_json) or {},
        report=_read(run, files.report, artifacts.read_json) or {},
        test=_read(run, files.predictions("test"), _csv),
        test_windows=_read(run, files.predictions("test", windows=True), _csv, required=False),
    )
    if not result.blend_parts:  # a blend has no history.csv: that is not damage
        result.history = _read(run, files.history, _csv)
    return result


def load_run(artifacts_dir: Path, run_id: str) -> Run:
    """Everything the dashboard shows about one run; problems are collected, not raised."""
    layout = ArtifactsLayout(artifacts_dir).run(run_id)
    run = Run(run_id=run_id, path=layout.dir, status={})
    try:
        remote.fetch(artifacts_dir, run_id)
    except CoreError as exc:  # a damaged or unreachable published run is shown with why, like a damaged folder
        run.problems.append(str(exc))
    run.status = _read(run, layout.status, artifacts.read_json) or {"state": "damaged"}
    if run.status.get("state") != "complete":
        run.problems.append(f"run is {run.status.get('state', 'unknown')}")
    classes = _read(run, layout.classes, artifacts.read_json) or {}
    run.class_names, run.positive_class = classes.get("class_names", []), classes.get("positive_class")
    run.audit = _read(run, layout.audit, artifacts.read_json) or {}
    run.split = _read(run, layout.split, _csv)
    run.preprocessing = _read(run, layout.preprocessing, artifacts.read_json) or {}
    run.config = _read(run, layout.config, artifacts.read_json, required=False) or {}
    run.comparisons = _read(run, layout.comparisons, artifacts.read_json, required=False) or []
    for name in run.status.get("models_completed", []):
        result = _read_model(run, name, layout.model(name))
        if result.report and (result.history is not None or result.blend_parts) and result.test is not None:
            run.models[name] = result
    return run


def run_choices(artifacts_dir: Path) -> list[dict]:
    """Runs for a selector, newest first: id, label, modality, whether usable, and the warning if not."""
    choices = []
    for status in list_runs(artifacts_dir):
        run = load_run(artifacts_dir, status["run_id"])
        date = str(run.status.get("started", ""))[:16].replace("T", " ")
        models = ", ".join(run.status.get("models_completed") or run.status.get("models") or [])
        label = f"{run.status.get('dataset', '?')} · {run.modality} · {date} · {models or 'no models'}"
        warning = None if run.usable else "; ".join(run.problems) or "no readable model"
        choices.append(
            {"run_id": run.run_id, "label": label, "modality": run.modality, "usable": run.usable, "warning": warning}
        )
    return choices


def training_metrics(artifacts_dir: Path) -> pd.DataFrame:
    """The training metrics (`ArtifactsLayout.metrics_csv`), or an empty frame with its columns when there is none."""
    try:
        return cached_read(ArtifactsLayout(artifacts_dir).metrics_csv, _csv)
    except (OSError, ValueError, pd.errors.ParserError):
        return pd.DataFrame(columns=list(METRICS_COLUMNS))
