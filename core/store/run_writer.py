"""Writing one training run's files through the layout: status, inputs, previews, per-epoch rows.

Knows where each file goes and how it is written (atomically), nothing about
training: the caller hands it data (dicts, DataFrames, bytes) to store.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from core.store import artifacts
from core.store.layout import ArtifactsLayout, RunLayout
from core.store.stamps import utc_now

METRICS_COLUMNS = (
    "run_id",
    "model",
    "epoch",
    "accuracy",
    "loss",
    "val_accuracy",
    "val_loss",
    "learning_rate",
    "epoch_seconds",
    "phase",
    "fold",  # empty except with --cv; last, so files written before it existed widen in place (`widen_header`)
)
LIBRARIES = (
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "numpy",
    "pandas",
    "scikit-learn",
    "pillow",
    "librosa",
    "soundfile",
)


def library_versions() -> dict[str, str]:
    """Python, the platform, and each installed library of `LIBRARIES`, so a run can be reproduced."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write(path: Path, data: Any) -> None:
    """Store `data` at `path` atomically: a DataFrame as CSV, bytes as they are, anything else as JSON."""
    if isinstance(data, pd.DataFrame):
        artifacts.write_csv(path, data)
    elif isinstance(data, bytes):
        artifacts.write_bytes(path, data)
    else:
        artifacts.write_json(path, data)


class RunWriter:
    """The files of one run as it is being trained.

    The status file is written first (state "running") and rewritten as
    models complete; a reader treats any state but "complete" as unfinished.
    """

    def __init__(self, artifacts_dir: Path, run_id: str):
        self.artifacts = ArtifactsLayout(artifacts_dir)
        self.run: RunLayout = self.artifacts.run(run_id)
        self.status = {"run_id": run_id, "state": "running", "started": utc_now(), "models_completed": []}

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def set_status(self, **changes: Any) -> None:
        self.status.update(changes)
        write(self.run.status, self.status)

    def fail(self, error: BaseException) -> None:
        """Mark the run failed, with the error's message."""
        self.set_status(state="failed", finished=utc_now(), error=str(error) or type(error).__name__)

    def complete(self) -> None:
        self.set_status(state="complete", finished=utc_now())

    def write_inputs(
        self, *, config: dict, audit: dict, split: pd.DataFrame, classes: dict, preprocessing: dict
    ) -> None:
        """Everything the run was trained from, and the library versions it was trained with."""
        for path, data in (
            (self.run.config, config),
            (self.run.audit, audit),
            (self.run.split, split),
            (self.run.classes, classes),
            (self.run.preprocessing, preprocessing),
            (self.run.versions, library_versions()),
        ):
            write(path, data)

    def write_previews(self, digest: str, files: dict[str, bytes]) -> None:
        """The previews of the test item with this content hash, by suffix (".png", ".wav")."""
        for suffix, data in files.items():
            write(self.run.preview(digest, suffix), data)

    def complete_model(self, name: str, comparisons: list[dict]) -> None:
        """Mark a model complete, with the run's refreshed paired comparisons."""
        write(self.run.comparisons, comparisons)
        self.set_status(models_completed=[*self.status["models_completed"], name])

    def epoch_writer(self, model_name: str, *, fold: int | None = None) -> Callable[[dict], None]:
        """A callback that appends each finished epoch's row to the training metrics, with the fold it trains.

        A cross-validated model (`--cv K`) fits K fold models in turn: each
        row names its `fold` as it is written, so a reader of the live file
        tells the folds apart before the model's `history.csv` exists.
        """
        widen_header(self.artifacts.metrics_csv, METRICS_COLUMNS)

        def on_epoch(row: dict) -> None:
            row = {"run_id": self.run_id, "model": model_name, **row, "fold": fold}
            artifacts.append_rows(self.artifacts.metrics_csv, [row], METRICS_COLUMNS)

        return on_epoch


def widen_header(path: Path, columns: tuple[str, ...]) -> None:
    """Give a CSV written before its last columns existed the whole header, its rows left as they are.

    Appended rows are written in `columns` order under the existing header,
    so a file whose header lacks `fold` must gain it before the first new
    row. Older rows are one field short, which CSV readers (pandas among
    them) read as empty.
    """
    with artifacts.locked(path):
        if not path.is_file():
            return
        existing = path.read_bytes()
        first, newline, rest = existing.partition(b"\n")
        header = first.decode("utf-8").rstrip("\r").split(",")
        if header != list(columns) and list(columns[: len(header)]) == header:
            artifacts.write_bytes(path, ",".join(columns).encode("utf-8") + newline + rest)
