"""What the callbacks ask of the artifacts: the selected models, their curves, the stored previews.

One place for the selection logic, so no callback filters runs by itself.
Everything is read from ARTIFACTS_DIR, never from the dataset a run was
trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import CoreError
from core.inputs.preprocess import read_audio
from core.inputs.previews import BROWSER_MIN_RATE, playable_wav
from core.store.layout import RunLayout, is_folder_name
from core.store.runs import ModelResult, Run, load_run, training_metrics
from core.web.data_uri import bytes_data_uri


@dataclass
class Entry:
    """One model of one run, as shown: `label` is the model, or model and run when two runs are compared."""

    label: str
    run: Run
    model: ModelResult


def selected(
    artifacts_dir: Path, run_id: str | None, models: Sequence[str] | None, compare_id: str | None = None
) -> list[Entry]:
    """The chosen models of the chosen run, plus the same models of the comparison run (run ids only, not paths)."""
    if not is_folder_name(run_id):
        return []
    runs = [load_run(artifacts_dir, run_id)]
    if is_folder_name(compare_id) and compare_id != run_id:
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
    """Rows of the training metrics for the entries, labelled, and each entry's kept epoch."""
    metrics = training_metrics(artifacts_dir)
    frames = []
    for entry in entries:
        rows = metrics[(metrics["run_id"] == entry.run.run_id) & (metrics["model"] == entry.model.name)]
        frames.append(rows.assign(label=entry.label))
    history = pd.concat(frames, ignore_index=True) if frames else metrics.assign(label=[])
    best = {e.label: int(e.model.summary["best_epoch"]) for e in entries if e.model.summary.get("best_epoch")}
    return history, best


def _stored_preview(run: Run, sha256: object, suffix: str) -> bytes | None:
    """The preview the run stored for a test item, or None when it holds none.

    Args:
        run: The run that stored the previews.
        sha256: The item's content hash, from the `sha256` column of its
            predictions (missing or NaN for runs trained before previews were stored).
        suffix: ".png" for the picture (image thumbnail or spectrogram), ".wav" for a recording.
    """
    if not isinstance(sha256, str) or not sha256:
        return None
    try:
        return RunLayout(run.path).preview(sha256, suffix).read_bytes()
    except OSError:
        return None


def picture_uri(run: Run, sha256: object) -> str | None:
    """The stored picture of a test item (thumbnail or spectrogram) as a PNG data URI; None when there is none."""
    stored = _stored_preview(run, sha256, ".png")
    return None if stored is None else bytes_data_uri(stored, "image/png")


def recording_uri(run: Run, sha256: object) -> str | None:
    """The stored recording of a test item as a WAV data URI that Chromium plays; None when there is none.

    Runs trained before previews were made playable stored recordings at the
    dataset's own rate, and Chromium refuses a WAV below `BROWSER_MIN_RATE`
    (the demo heart sounds are 2 kHz): such a recording is re-encoded with
    `playable_wav` (8 kHz). A playable one is sent as stored.
    """
    stored = _stored_preview(run, sha256, ".wav")
    if stored is None:
        return None
    try:
        signal, rate = read_audio(stored)
    except CoreError:
        return None
    return bytes_data_uri(stored if rate >= BROWSER_MIN_RATE else playable_wav(signal, rate), "audio/wav")
