"""Example inputs for the prediction page, taken from a run's test split.

`python -m core demo` calls `export_examples` after training, so a new user
can try the page in one click. Only the demo's synthetic data is exported
this way; the files are copies under `ArtifactsLayout.examples`.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
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


def list_examples(artifacts_dir: Path, modality: str | None = None, *, dataset: str | None = None) -> list[dict]:
    """Exported examples, optionally of one modality and dataset, numbered per class: "murmur 1", "murmur 2".

    Each is {"key", "label", "number", "dataset", "path", "modality"}. The
    key is an opaque digest of the example's place under the examples folder,
    stable across requests and processes, so a page names an example by
    `key` and never sends a server path to the browser.
    """
    root = ArtifactsLayout(artifacts_dir).examples
    found, counts = [], Counter()
    for path in sorted(root.glob("*/*")) if root.is_dir() else []:
        kind = modality_of(path)
        if not kind or modality not in (None, kind) or dataset not in (None, path.parent.name):
            continue
        label = path.name.split("__", 1)[0].replace("_", " ")
        counts[(path.parent.name, label)] += 1
        found.append(
            {
                "key": hashlib.sha256(f"{path.parent.name}/{path.name}".encode()).hexdigest()[:16],
                "label": label,
                "number": counts[(path.parent.name, label)],
                "dataset": path.parent.name,
                "path": str(path),
                "modality": kind,
            }
        )
    return found


def find_example(artifacts_dir: Path, key: str) -> dict | None:
    """The exported example named by `key` (see `list_examples`), or None: a key the client made up finds nothing."""
    return next((example for example in list_examples(artifacts_dir) if example["key"] == key), None)
