"""What the callbacks ask of the artifacts: the selected models, their curves, their thumbnails.

One place for the selection logic, so no callback filters runs by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from core.web.data_uri import file_data_uri, png_data_uri, spectrogram_png
from core.errors import CoreError
from core.inputs.preprocess import decode_image, load_sound, preprocessing_from_dict
from core.store.runs import ModelResult, Run, load_run, training_metrics


@dataclass
class Entry:
    """One model of one run, as shown: `label` is the model, or model and run when two runs are compared."""

    label: str
    run: Run
    model: ModelResult


def selected(artifacts_dir: Path, run_id: str | None, models: Sequence[str] | None, compare_id: str | None = None) -> list[Entry]:
    """The chosen models of the chosen run, plus the same models of the comparison run."""
    if not run_id:
        return []
    runs = [load_run(artifacts_dir, run_id)]
    if compare_id and compare_id != run_id:
        runs.append(load_run(artifacts_dir, compare_id))
    entries = []
    for run in runs:
        if not run.usable:
            continue
        for name in models or []:
            if name in run.models:
                label = name if len(runs) == 1 else f"{name} @ {run.run_id[:15]}"
                entries.append(Entry(label, run, run.models[name]))
    return entries


def learning_history(artifacts_dir: Path, entries: Sequence[Entry]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows of `training_metrics.csv` for the entries, labelled, and each entry's kept epoch."""
    metrics = training_metrics(artifacts_dir)
    frames = []
    for entry in entries:
        rows = metrics[(metrics["run_id"] == entry.run.run_id) & (metrics["model"] == entry.model.name)]
        frames.append(rows.assign(label=entry.label))
    history = pd.concat(frames, ignore_index=True) if frames else metrics.assign(label=[])
    best = {e.label: int(e.model.summary["best_epoch"]) for e in entries if e.model.summary.get("best_epoch")}
    return history, best


def thumbnail(run: Run, path: str, *, size: int = 240) -> str | None:
    """A PNG data URI: the image itself, or the log-mel spectrogram of a recording. None if unreadable."""
    try:
        if run.modality == "image":
            image = decode_image(Path(path))
            image.thumbnail((size, size))
            return png_data_uri(np.asarray(image))
        windows, _ = load_sound(Path(path), preprocessing_from_dict(run.preprocessing))
        return spectrogram_png(np.concatenate(list(windows[..., 0]), axis=1), width=size, height=size // 2)
    except (CoreError, OSError):
        return None


def audio_data_uri(path: str, *, limit_bytes: int = 5_000_000) -> str | None:
    """The recording's own bytes as a data URI for an audio player; None if missing or too large."""
    try:
        if Path(path).stat().st_size > limit_bytes:
            return None
        return file_data_uri(path)
    except OSError:
        return None
