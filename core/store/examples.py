"""Example inputs for the prediction page, taken from a run's test split.

`python -m core demo` calls `export_examples` after training, so a new user
can try the page in one click. Only the demo's synthetic data is exported
this way; the files are copies under `ArtifactsLayout.examples`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from core.inputs.formats import modality_of
from core.store import artifacts
from core.store.layout import ArtifactsLayout


def export_examples(artifacts_dir: Path, run_id: str, *, per_class: int = 1) -> list[Path]:
    """Copy `per_class` test items of each class of a run into the examples folder, under the run's dataset name."""
    layout = ArtifactsLayout(artifacts_dir)
    run = layout.run(run_id)
    dataset = artifacts.read_json(run.status).get("dataset", run_id)
    split = pd.read_csv(run.split)
    target = layout.examples / dataset
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for label, rows in split[split["split"] == "test"].groupby("label"):
        for path in rows["path"].head(per_class):
            destination = target / f"{label}__{Path(path).name}"
            shutil.copyfile(path, destination)
            copied.append(destination)
    return copied


def list_examples(artifacts_dir: Path, modality: str | None = None) -> list[dict]:
    """Exported examples, optionally of one modality: {"label", "path", "modality"}."""
    root = ArtifactsLayout(artifacts_dir).examples
    found = []
    for path in sorted(root.glob("*/*")) if root.is_dir() else []:
        kind = modality_of(path)
        if kind and (modality is None or kind == modality):
            label = path.name.split("__", 1)[0].replace("_", " ")
            found.append({"label": f"{path.parent.name}: {label}", "path": str(path), "modality": kind})
    return found
