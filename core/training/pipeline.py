"""One training run, from data sources to a complete run directory.

    load -> check weights -> audit -> split -> preprocess -> fit each model
         -> predict validation and test -> write artifacts

`train_run` returns a DataFrame with one row of headline figures per model.
"""

from __future__ import annotations

import logging
import os
import platform
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from core.store import artifacts
from core.data.audit import audit_dataset
from core.data.dataset import Item, load_dataset
from core.errors import CoreError
from core.training.export import check_parity, export_litert
from core.serving.litert import LiteRTModel
from core.evaluation.metrics import roc_auc
from core.training.models import BACKBONES, build_backbone, resolve_weights
from core.inputs.preprocess import (
    ImagePreprocessing,
    Preprocessing,
    SoundPreprocessing,
    aggregate_windows,
    image_to_input,
    load_image,
    load_sound,
)
from core.inputs.quality import QUALITY_REFERENCE, image_reference
from core.evaluation.report import Predictions, compare_models, evaluate_level
from core.data.splits import assign_splits, linked_units
from core.config import LOSSES, MODEL_NAMES, DataOptions, TrainConfig
from core.training.fit import SplitData, fit_model, predict

log = logging.getLogger(__name__)

NEGATIVE_NAME = re.compile(r"normal|healthy|negative|control|benign|absent|(no|non)[_ -].*", re.IGNORECASE)
LIBRARIES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "pandas", "scikit-learn", "pillow", "librosa", "soundfile")


@dataclass
class Encoded:
    """Model inputs of a set of items, one row per image or per sound window."""

    x: np.ndarray
    owner: np.ndarray
    start_seconds: np.ndarray | None = None


def choose_positive(class_names: Sequence[str], requested: str | None) -> int | None:
    """Index of the positive class for two classes, None for more.

    >>> choose_positive(["abnormal", "normal"], None)
    0
    """
    if requested is not None:
        if requested not in class_names:
            raise CoreError(f"--positive-class {requested!r} is not one of the classes {list(class_names)}")
        return list(class_names).index(requested)
    if len(class_names) != 2:
        return None
    negatives = [bool(NEGATIVE_NAME.fullmatch(name)) for name in class_names]
    if negatives == [True, False]:
        return 1
    if negatives == [False, True]:
        return 0
    return 1


def check_models(config: TrainConfig, input_shape: tuple[int, int, int]) -> dict[str, object]:
    """Fail before any work if a model name, the loss, or backbone weights are wrong.

    Building each backbone once loads (or downloads) its weights, so a
    missing file or an offline machine stops the run at once.
    """
    unknown = [name for name in config.models if name not in MODEL_NAMES]
    if unknown or not config.models:
        raise CoreError(f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODEL_NAMES)}")
    if config.loss not in LOSSES:
        raise CoreError(f"--loss must be one of {', '.join(LOSSES)}, got {config.loss!r}")
    resolved = {}
    for name in config.models:
        if name in BACKBONES:
            resolved[name] = resolve_weights(config.weights, name)
            build_backbone(name, input_shape, weights=resolved[name])
    return resolved


def encode(items: Sequence[Item], params: Preprocessing) -> Encoded:
    """Preprocess items in parallel threads (decoding and FFTs release the GIL)."""
    workers = min(8, os.cpu_count() or 1)
    paths = [item.path for item in items]
    if isinstance(params, ImagePreprocessing):
        with ThreadPoolExecutor(workers) as pool:
            images = list(pool.map(lambda path: load_image(path, params), paths))
        return Encoded(np.stack(images), np.arange(len(items)))
    with ThreadPoolExecutor(workers) as pool:
        sounds = list(pool.map(lambda path: load_sound(path, params), paths))
    owner = np.concatenate([np.full(len(windows), index) for index, (windows, _) in enumerate(sounds)])
    return Encoded(
        np.concatenate([windows for windows, _ in sounds]),
        owner,
        np.concatenate([starts for _, starts in sounds]),
    )


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _prediction_frame(items: Sequence[Item], labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "path": [str(item.path) for item in items],
            "group": [item.group or "" for item in items],
            "label": [class_names[i] for i in labels],
            "label_index": labels,
        }
    )
    for index, name in enumerate(class_names):
        frame[f"prob_{name}"] = probs[:, index]
    frame["predicted"] = [class_names[i] for i in probs.argmax(axis=1)]
    return frame


class _RunWriter:
    """Writes one run's files; knows the layout, nothing about training."""

    def __init__(self, artifacts_dir: Path, run_id: str):
        self.artifacts_dir = Path(artifacts_dir)
        self.run_id = run_id
        self.dir = artifacts.runs_dir(self.artifacts_dir) / run_id
        self.status = {"run_id": run_id, "state": "running", "started": artifacts.utc_now(), "models_completed": []}
        self.tests: dict[str, Predictions] = {}
        self.reports: dict[str, dict] = {}

    def write(self, name: str, data) -> None:
        path = self.dir / name
        if isinstance(data, pd.DataFrame):
            artifacts.write_csv(path, data)
        else:
            artifacts.write_json(path, data)

    def set_status(self, **changes) -> None:
        self.status.update(changes)
        self.write("status.json", self.status)

    def record_model(self, name: str, test: Predictions, report: dict, positive: int | None) -> None:
        """Mark a model complete and refresh the run's paired comparisons."""
        self.tests[name], self.reports[name] = test, report
        self.write("comparisons.json", compare_models(self.tests, self.reports, positive=positive))
        self.set_status(models_completed=[*self.status["models_completed"], name])

    def epoch_writer(self, model_name: str):
        def on_epoch(row: dict) -> None:
            artifacts.append_rows(
                artifacts.metrics_csv(self.artifacts_dir),
                [{"run_id": self.run_id, "model": model_name, **row}],
                artifacts.METRICS_COLUMNS,
            )

        return on_epoch


def train_run(
    data: DataOptions,
    config: TrainConfig,
    *,
    artifacts_dir: Path,
    image: ImagePreprocessing = ImagePreprocessing(),
    sound: SoundPreprocessing = SoundPreprocessing(),
) -> tuple[str, pd.DataFrame]:
    """Train every model in `config.models` on one dataset and write the run.

    Returns:
        The run id, and one row per model with its headline test figures.

    Raises:
        CoreError: any problem the user can fix, before training where possible.
    """
    dataset = load_dataset(
        data.sources, label_map=data.label_map, group_column=data.group_column, group_pattern=data.group_pattern
    )
    params: Preprocessing = image if dataset.modality == "image" else sound
    weights = check_models(config, params.input_shape)

    report, usable, hashes = audit_dataset(dataset)
    for line in report.summary_lines():
        log.info("audit: %s", line)
    class_names = sorted({item.label for item in usable})
    if len(class_names) < 2:
        raise CoreError(f"training needs at least two classes with readable files, found {class_names}")
    positive = choose_positive(class_names, data.positive_class)
    labels = np.array([class_names.index(item.label) for item in usable])
    units = linked_units([(item.group, hashes[item.path]) for item in usable])
    split = assign_splits(labels, units, fractions=data.split, seed=config.seed)

    writer = _RunWriter(artifacts_dir, artifacts.new_run_id(data.dataset_name))
    log.info("run %s: %d usable %s files, classes %s", writer.run_id, len(usable), dataset.modality, class_names)
    writer.set_status(dataset=data.dataset_name, modality=dataset.modality, models=list(config.models))
    try:
        _write_run_inputs(writer, data, config, report, usable, hashes, split, units, class_names, positive, params)
        prepared = _Prepared(usable, labels, split, class_names, positive, params, encode(usable, params))
        if dataset.modality == "image":
            writer.write(QUALITY_REFERENCE, image_reference(prepared.encoded.x[prepared.rows("train")]))
        rows = [_train_one(writer, name, weights.get(name), config, prepared) for name in config.models]
    except BaseException as exc:
        writer.set_status(state="failed", finished=artifacts.utc_now(), error=str(exc) or type(exc).__name__)
        raise
    writer.set_status(state="complete", finished=artifacts.utc_now())
    return writer.run_id, pd.DataFrame(rows)


@dataclass
class _Prepared:
    """Everything a run knows after auditing, splitting and preprocessing."""

    usable: list[Item]
    labels: np.ndarray
    split: np.ndarray
    class_names: list[str]
    positive: int | None
    params: Preprocessing
    encoded: Encoded

    def rows(self, part: str) -> np.ndarray:
        """Input rows (images or windows) of one split."""
        return np.flatnonzero(self.split[self.encoded.owner] == part)


def _write_run_inputs(writer, data, config, report, usable, hashes, split, units, class_names, positive, params) -> None:
    writer.write("config.json", {"data": asdict(data), "training": asdict(config)})
    writer.write("audit.json", report.to_dict())
    writer.write(
        "split.csv",
        pd.DataFrame(
            {
                "path": [str(item.path) for item in usable],
                "label": [item.label for item in usable],
                "group": [item.group or "" for item in usable],
                "unit": units,
                "sha256": [hashes[item.path] for item in usable],
                "source": [item.source for item in usable],
                "split": split,
            }
        ),
    )
    writer.write(
        "classes.json",
        {"class_names": class_names, "positive_class": None if positive is None else class_names[positive]},
    )
    writer.write("preprocessing.json", params.to_dict())
    writer.write("versions.json", library_versions())


def _train_one(writer: _RunWriter, name: str, weights, config: TrainConfig, run: _Prepared) -> dict:
    encoded, labels = run.encoded, run.labels
    train_rows, val_rows = run.rows("train"), run.rows("val")
    data = SplitData(
        x_train=encoded.x[train_rows],
        y_train=labels[encoded.owner[train_rows]],
        x_val=encoded.x[val_rows],
        y_val=labels[encoded.owner[val_rows]],
        modality=run.params.modality,
        num_classes=len(run.class_names),
    )
    log.info("training %s on %d inputs (%d validation)", name, len(data.x_train), len(data.x_val))
    result = fit_model(name, data, config, weights=weights, on_epoch=writer.epoch_writer(name))
    out = writer.dir / artifacts.model_dir(Path("."), name)
    artifacts.save_keras_model(result.model, out / "model.keras")
    artifacts.write_csv(out / "history.csv", result.history)

    predictions = {part: _predict_part(result.model, run, part) for part in ("val", "test")}
    for part, (items, windows) in predictions.items():
        artifacts.write_csv(out / f"predictions_{part}.csv", items)
        if windows is not None:
            artifacts.write_csv(out / f"predictions_{part}_windows.csv", windows)
    levels = _levels(predictions, run)
    report = {
        "model": name,
        "level": next(iter(levels)),
        "levels": {
            level: evaluate_level(
                val, test, class_names=run.class_names, positive=run.positive,
                target_sensitivity=config.target_sensitivity, n_resamples=config.bootstrap_resamples, seed=config.seed,
            )
            for level, (val, test) in levels.items()
        },
    }
    test_items, test_windows = predictions["test"]
    report.update(_export(result.model, out, run, test_items if test_windows is None else test_windows))
    artifacts.write_json(out / "report.json", report)
    headline_val = levels[report["level"]][0]
    summary = {
        "model": name,
        "best_epoch": result.best_epoch,
        "epochs_run": int(len(result.history)),
        "train_seconds": round(result.train_seconds, 2),
        "cache_seconds": round(result.cache_seconds, 2),
        "params": int(result.model.count_params()),
        "model_bytes": (out / "model.keras").stat().st_size,
        "val_auc": roc_auc(headline_val.labels, headline_val.probs, positive=run.positive if run.positive is not None else 1),
    }
    artifacts.write_json(out / "summary.json", summary)
    writer.record_model(name, levels[report["level"]][1], report["levels"][report["level"]], run.positive)
    headline = report["levels"][report["level"]]
    point = headline["operating_point"]
    return {
        "model": name,
        "test_n": headline["n"],
        "test_accuracy": headline["accuracy"],
        "test_auc": headline["auc"],
        "test_sensitivity": point.get("sensitivity"),
        "test_specificity": point.get("specificity"),
        "threshold": point["threshold"],
        "ece": headline["calibration"]["after"]["ece"],
        "best_epoch": result.best_epoch,
        "train_seconds": summary["train_seconds"],
        "litert_ok": report["litert_parity"]["passed"],
    }


def _predict_part(model, run: _Prepared, part: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Raw (uncalibrated) predictions of one split: per item, and per window for sounds."""
    rows = run.rows(part)
    owners = run.encoded.owner[rows]
    window_probs = predict(model, run.encoded.x[rows])
    items = np.flatnonzero(run.split == part)
    probs = _per_item(window_probs, owners, items, run.params)
    frame = _prediction_frame([run.usable[i] for i in items], run.labels[items], probs, run.class_names)
    if run.params.modality == "image":
        return frame, None
    windows = _prediction_frame([run.usable[i] for i in owners], run.labels[owners], window_probs, run.class_names)
    windows.insert(2, "start_seconds", run.encoded.start_seconds[rows])
    return frame, windows


def prediction_set(frame: pd.DataFrame, class_names: Sequence[str], *, group_by_path: bool = False) -> Predictions:
    """A predictions CSV as `Predictions`; window rows are grouped by recording unless a group is known."""
    groups = frame["group"].fillna("").astype(str).to_numpy()
    if group_by_path:
        groups = np.where(groups == "", frame["path"].astype(str).to_numpy(), groups)
    probs = frame[[f"prob_{name}" for name in class_names]].to_numpy()
    return Predictions(frame["label_index"].to_numpy(), probs, groups)


def _levels(predictions: dict, run: _Prepared) -> dict[str, tuple[Predictions, Predictions]]:
    """The levels a model is evaluated at, headline first."""
    (val_items, val_windows), (test_items, test_windows) = predictions["val"], predictions["test"]
    if run.params.modality == "image":
        return {"item": (prediction_set(val_items, run.class_names), prediction_set(test_items, run.class_names))}
    return {
        "recording": (prediction_set(val_items, run.class_names), prediction_set(test_items, run.class_names)),
        "window": (
            prediction_set(val_windows, run.class_names, group_by_path=True),
            prediction_set(test_windows, run.class_names, group_by_path=True),
        ),
    }


def _export(model, out: Path, run: _Prepared, keras_test: pd.DataFrame, *, parity_items: int = 256) -> dict:
    """LiteRT export, its parity with Keras on test inputs, its size and latency.

    `keras_test` holds the Keras probabilities already predicted for the test
    inputs (windows for sounds), in input order.
    """
    path = out / "model.tflite"
    export_litert(model, path)
    litert = LiteRTModel(path)
    x = run.encoded.x[run.rows("test")[:parity_items]]
    inputs = image_to_input(x) if x.dtype == np.uint8 else x
    keras_probs = keras_test[[f"prob_{name}" for name in run.class_names]].to_numpy()[:parity_items]
    parity = check_parity(litert, keras_probs, inputs)
    if not parity["passed"]:
        log.warning("LiteRT export differs from Keras by %.2g (tolerance %.0e)", parity["max_abs_diff"], parity["tolerance"])
    return {
        "litert_parity": parity,
        "litert_bytes": path.stat().st_size,
        "litert_latency_ms": litert.latency_ms(inputs) if len(inputs) else None,
    }


def _per_item(window_probs: np.ndarray, owners: np.ndarray, items: np.ndarray, params: Preprocessing) -> np.ndarray:
    """Item-level probabilities: images as they are, recordings aggregated over windows."""
    if params.modality == "image":
        return window_probs
    return np.stack([aggregate_windows(window_probs[owners == item], params.aggregation) for item in items])
