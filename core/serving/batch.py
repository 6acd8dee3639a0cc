"""Batch prediction: every file of a folder or a manifest through one model, into a CSV a rerun resumes.

For research users with archives (say 50,000 recordings), not for the
clinic: the same checks, quality gates, out-of-distribution judgement,
calibration and operating point as the app, one CSV row per file, and a
per-file `error` column instead of an abort. Nothing is written to the audit
log, which records what clinicians were shown.

Files are shared among worker processes, each with its own single-threaded
LiteRT interpreter (processes, because decoding and log-mel work hold the
GIL). Rows are appended in the files' order and flushed as they finish, so
an interruption loses only the files in flight; a rerun keeps the rows
already written, cuts a row the interruption left half-written, and
predicts the rest.
"""

from __future__ import annotations

import csv
import io
import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from core.data.dataset import file_problem, manifest_text
from core.errors import CoreError, InvalidInput
from core.inputs.formats import BY_SUFFIX
from core.serving.predictor import Prediction, Predictor
from core.serving.service import check_upload, load_predictor
from core.settings import Settings
from core.store.serving_state import OperatingPoint

COLUMNS = (
    "file",
    "outcome",
    "class",
    "uncertain",
    "out_of_distribution",
    "ood_score",
    "error",
    "run_id",
    "model",
    "operating_point_version",
    "threshold",
)
log = logging.getLogger(__name__)
OUTCOMES = ("classified", "uncertain", "not like the training data", "refused")


@dataclass(frozen=True)
class BatchInput:
    """One file to predict: `key` is how it is written in the CSV (as listed), `path` where it is read."""

    key: str
    path: Path
    label: str | None = None


@dataclass(frozen=True)
class BatchModel:
    """What each worker process loads: the model, the operating point in force at the start, the limits."""

    settings: Settings
    run_id: str
    model: str
    point: OperatingPoint


def folder_inputs(folder: Path) -> list[BatchInput]:
    """Every image or recording under `folder` (recursively, sorted), keyed by its path relative to `folder`.

    Files of no accepted type (notes, CSVs) are left out; a file of the other
    modality is kept, so its row says why it was refused.

    Raises:
        InvalidInput: `folder` is not a readable folder.
    """
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder")
    paths = sorted(path for path in folder.rglob("*") if path.suffix.lower() in BY_SUFFIX and not path.is_dir())
    return [BatchInput(path.relative_to(folder).as_posix(), path) for path in paths]


def manifest_inputs(manifest: Path) -> list[BatchInput]:
    """The files of a CSV manifest's `path` column (relative to the CSV, as for training); `label` kept if present.

    Raises:
        InvalidInput: the manifest cannot be read or has no `path` column.
    """
    reader = csv.DictReader(io.StringIO(manifest_text(manifest), newline=""))
    try:
        if "path" not in (reader.fieldnames or []):
            raise InvalidInput(f"manifest {manifest} has no 'path' column; it has {', '.join(reader.fieldnames or [])}")
        rows = [row for row in reader if (row.get("path") or "").strip()]
    except csv.Error as exc:
        raise InvalidInput(f"manifest {manifest} is not a readable CSV file (line {reader.line_num}: {exc})") from None
    inputs = []
    for row in rows:
        key = row["path"].strip()
        path = Path(key) if Path(key).is_absolute() else manifest.parent / key
        inputs.append(BatchInput(key, path, (row.get("label") or "").strip() or None))
    return inputs


def columns_for(class_names: Sequence[str], *, labelled: bool) -> list[str]:
    """The CSV header: the fixed columns, one probability column per class, then `label` for manifests with one."""
    return [*COLUMNS, *(f"p_{name}" for name in class_names), *(["label"] if labelled else [])]


def done_keys(out: Path, columns: list[str], run_id: str, model: str, version: int) -> set[str]:
    """The files an earlier run already wrote to `out`, after cutting a half-written last row.

    Its rows must be of the same model at the same operating-point version:
    one file's rows are all decided by one rule.

    Raises:
        InvalidInput: `out` holds rows of another model or operating point, or is no CSV this command wrote.
    """
    if not out.exists() or out.stat().st_size == 0:
        return set()
    data = out.read_bytes()
    if not data.endswith(b"\n"):  # interrupted mid-row: the row is predicted again
        with out.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != columns:
            raise InvalidInput(
                f"{out.name} holds other columns (another model's classes, or not a file this command wrote); "
                "choose another --out, or delete it to start again"
            )
        rows = list(reader)
    ours = (run_id, model, str(version))  # as the CSV holds it
    others = {(row["run_id"], row["model"], row["operating_point_version"]) for row in rows} - {ours}
    if others:
        run, name, point = sorted(others)[0]
        raise InvalidInput(
            f"{out.name} holds predictions of {run}/{name} at operating point version {point}, not "
            f"{run_id}/{model} at version {version}; choose another --out, or delete it to start again"
        )
    return {row["file"] for row in rows}


def _row(item: BatchInput, prediction: Prediction | None, error: str | None, model: BatchModel) -> dict:
    row = {"file": item.key, "run_id": model.run_id, "model": model.model, "label": item.label or ""}
    row |= {"operating_point_version": model.point.version, "threshold": _blank(model.point.threshold)}
    if prediction is None:
        return row | {"outcome": "refused", "error": error}
    if prediction.out_of_distribution:
        outcome = "not like the training data"
    else:
        outcome = "uncertain" if prediction.uncertain else "classified"
    probabilities = {} if prediction.shown_class is None else prediction.probabilities
    return row | {
        "outcome": outcome,
        "class": prediction.shown_class or "",
        "uncertain": prediction.uncertain,
        "out_of_distribution": _blank(prediction.out_of_distribution),
        "ood_score": _blank(prediction.ood_score),
        **{f"p_{name}": f"{p:.6f}" for name, p in probabilities.items()},
    }


def _blank(value: object) -> object:
    return "" if value is None else value


_worker: tuple[Predictor, BatchModel] | None = None
_one_thread: threadpool_limits | None = None


def _start_worker(model: BatchModel, pooled: bool) -> None:
    """Load the model once per process; in a pool, one thread per process (the processes are the parallelism)."""
    global _worker, _one_thread
    if pooled:
        _one_thread = threadpool_limits(1)  # numpy's BLAS too: N processes, not N x cores threads
    threads = 1 if pooled else None
    _worker = (load_predictor(model.settings, model.run_id, model.model, num_threads=threads), model)


def _predict_one(item: BatchInput) -> dict:
    """One file's row; every failure a person could act on becomes the row's `error`, never an abort."""
    predictor, model = _worker
    try:
        problem = file_problem(item.path)  # a named pipe would block the read forever
        if problem is not None:
            raise InvalidInput(f"the file {problem}")
        data = item.path.read_bytes()
        check_upload(data, predictor, model.settings)
        prediction = predictor.predict(data, operating_point=model.point)
    except CoreError as exc:
        return _row(item, None, str(exc), model)
    except OSError as exc:
        return _row(item, None, f"cannot read the file ({exc.strerror or exc})", model)
    except Exception as exc:  # a decoder's own failure on one odd file must not stop 50,000 others
        log.warning("unexpected failure on %s", item.key, exc_info=True)
        return _row(item, None, f"unexpected {type(exc).__name__}: the file could not be judged", model)
    return _row(item, prediction, None, model)


def _rows(todo: list[BatchInput], model: BatchModel, workers: int) -> Iterator[dict]:
    """The rows of `todo`, in order: in this process for one worker, else from a pool of fresh processes."""
    if workers <= 1:
        _start_worker(model, pooled=False)
        yield from map(_predict_one, todo)
        return
    # spawn: each worker starts clean, without the parent's LiteRT threads or database connections.
    with multiprocessing.get_context("spawn").Pool(workers, _start_worker, (model, True)) as pool:
        yield from pool.imap(_predict_one, todo, chunksize=4)


def predict_batch(
    inputs: list[BatchInput], out: Path, model: BatchModel, class_names: Sequence[str], *, workers: int | None = None
) -> Counter:
    """Predict every input not yet in `out` and append its row; the count of this run's rows by outcome.

    Args:
        inputs: The files, in the order their rows are written.
        out: The CSV; created, or resumed when an earlier run wrote part of it.
        model: The model and operating point every worker uses.
        class_names: The model's classes (one probability column each).
        workers: Worker processes (default: the cores this process may use).
    """
    columns = columns_for(class_names, labelled=any(item.label for item in inputs))
    done = done_keys(out, columns, model.run_id, model.model, model.point.version)
    todo = [item for item in inputs if item.key not in done]
    counts = Counter({"already written": len(inputs) - len(todo)})
    workers = max(1, min(workers or len(os.sched_getaffinity(0)), len(todo)))
    fresh = not out.exists() or out.stat().st_size == 0
    with out.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        if fresh:
            writer.writeheader()
        for row in tqdm(_rows(todo, model, workers), total=len(todo), unit="file", disable=None):
            writer.writerow(row)
            handle.flush()
            counts[row["outcome"]] += 1
    return counts
