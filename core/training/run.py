"""One training run, from data sources to a complete run directory.

    load -> check models -> audit -> split -> write inputs and previews
         -> preprocess -> fit each model -> predict validation and test
         -> evaluate, export, compare -> mark the run complete

`train_run` returns the run id and a DataFrame with one row of headline
figures per model. The steps live elsewhere: `encode` (threaded
preprocessing), `fit` (Keras), `baseline` (features and gradient boosting),
`core.evaluation.levels` (prediction frames and reports), `export` (LiteRT,
or the baseline's estimator) and `core.store.run_writer` (the files).

Every run trains the baseline first (`TrainConfig.run_models`): each other
model's report says whether it significantly beats it (`versus_baseline`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import BASELINE, DataOptions, TrainConfig
from core.data.audit import audit_dataset
from core.data.dataset import load_dataset
from core.data.splits import assign_splits, linked_units, split_table
from core.errors import CoreError, InvalidInput
from core.evaluation import ood
from core.evaluation.comparisons import compare_models, versus
from core.evaluation.guardrails import no_evidence_of_skill
from core.evaluation.levels import Frames, model_report, prediction_frame, prediction_levels
from core.evaluation.metrics import roc_auc
from core.evaluation.report import Predictions
from core.inputs.preprocess import ImagePreprocessing, Preprocessing, SoundPreprocessing, aggregate_windows
from core.inputs.previews import previews
from core.inputs.quality import image_reference
from core.store import artifacts
from core.store.layout import ModelLayout
from core.store.run_writer import RunWriter, write
from core.store.stamps import new_run_id
from core.training.baseline import fit_baseline, tree_nodes
from core.training.encode import Encoded, encode, thread_map
from core.training.export import PARITY_ITEMS, export_baseline_checked, export_checked
from core.training.fit import SplitData, fit_model, predict_outputs
from core.training.models import BACKBONES, EMBEDDING, PROBABILITIES, build_backbone, resolve_weights, with_embedding

log = logging.getLogger(__name__)

NEGATIVE_NAME = re.compile(r"normal|healthy|negative|control|benign|absent|(no|non)[_ -].*", re.IGNORECASE)


def choose_positive(class_names: Sequence[str], requested: str | None) -> int | None:
    """Index of the positive class for two classes, None for more.

    >>> choose_positive(["abnormal", "normal"], None)
    0
    """
    if requested is not None:
        if requested not in class_names:
            raise InvalidInput(f"--positive-class {requested!r} is not one of the classes {list(class_names)}")
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
    """Fail before any work if backbone weights are wrong or the input is too small for a backbone.

    Model names and the loss were checked when `config` was built. Building
    each backbone once loads (or downloads) its weights, so a missing file or
    an offline machine stops the run at once.
    """
    resolved = {}
    for name in config.models:
        if name in BACKBONES:
            resolved[name] = resolve_weights(config.weights, name)
            build_backbone(name, input_shape, weights=resolved[name])
    return resolved


@dataclass
class _Prepared:
    """Everything a run knows after auditing, splitting and preprocessing.

    Attributes:
        table: The split table (`core.data.splits.split_table`), one row per
            usable item: the items trained and evaluated on, in encoding order.
        labels: Class index of each usable item.
        encoded: The items' model inputs.
    """

    table: pd.DataFrame
    labels: np.ndarray
    class_names: list[str]
    positive: int | None
    params: Preprocessing
    encoded: Encoded

    @property
    def split(self) -> np.ndarray:
        return self.table["split"].to_numpy()

    def rows(self, part: str) -> np.ndarray:
        """Input rows (images or windows) of one split."""
        return np.flatnonzero(self.split[self.encoded.owner] == part)

    def split_data(self) -> SplitData:
        """Training and validation inputs with their labels (per window, for sounds)."""
        train_rows, val_rows = self.rows("train"), self.rows("val")
        return SplitData(
            x_train=self.encoded.x[train_rows],
            y_train=self.labels[self.encoded.owner[train_rows]],
            x_val=self.encoded.x[val_rows],
            y_val=self.labels[self.encoded.owner[val_rows]],
            modality=self.params.modality,
            num_classes=len(self.class_names),
        )


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
        raise InvalidInput(f"training needs at least two classes with readable files, found {class_names}")
    positive = choose_positive(class_names, data.positive_class)
    labels = np.array([class_names.index(item.label) for item in usable])
    units = linked_units([(item.group, hashes[item.path]) for item in usable])
    table = split_table(usable, hashes, units, assign_splits(labels, units, fractions=data.split, seed=config.seed))

    writer = RunWriter(artifacts_dir, new_run_id(data.dataset_name))
    log.info("run %s: %d usable %s files, classes %s", writer.run_id, len(usable), dataset.modality, class_names)
    writer.set_status(dataset=data.dataset_name, modality=dataset.modality, models=list(config.run_models))
    try:
        writer.write_inputs(
            config={"data": asdict(data), "training": asdict(config)},
            audit=report.to_dict(),
            split=table,
            classes={"class_names": class_names, "positive_class": None if positive is None else class_names[positive]},
            preprocessing=params.to_dict(),
        )
        run = _Prepared(table, labels, class_names, positive, params, encode(usable, params))
        _write_references(writer, run)
        rows = _train_models(writer, run, config, weights)
    except BaseException as exc:
        writer.fail(exc)
        raise
    writer.complete()
    return writer.run_id, pd.DataFrame(rows)


def _write_references(writer: RunWriter, run: _Prepared) -> None:
    """What later readers compare against: previews of the test items and (images) the training images' quality."""
    _write_previews(writer, run)
    if run.params.modality == "image":
        write(writer.run.quality_reference, image_reference(run.encoded.x[run.rows("train")]))


def _write_previews(writer: RunWriter, run: _Prepared) -> None:
    """A picture (and for sounds the recording) of every test item, so the dashboard never needs the dataset."""
    test = run.table[run.table["split"] == "test"].drop_duplicates("sha256")

    def store(row: tuple[str, str]) -> None:
        path, digest = row
        try:
            writer.write_previews(digest, previews(path, run.params))
        except (CoreError, OSError) as exc:
            log.warning("no preview of %s: %s", path, exc)

    thread_map(store, list(zip(test["path"], test["sha256"], strict=True)))


def _train_models(writer: RunWriter, run: _Prepared, config: TrainConfig, weights: dict) -> list[dict]:
    """Train, evaluate and export each model in turn, refreshing the paired comparisons as each completes.

    The baseline comes first, so each later model's report can say whether it beats it.
    """
    tests: dict[str, Predictions] = {}
    reports: dict[str, dict] = {}
    rows = []
    for name in config.run_models:
        report, summary, test = _train_one(writer, name, weights.get(name), config, run)
        tests[name], reports[name] = test, report["levels"][report["level"]]
        comparisons = compare_models(
            tests, reports, positive=run.positive, n_resamples=config.bootstrap_resamples, seed=config.seed
        )
        report["versus_baseline"] = versus(comparisons, name, BASELINE)
        write(writer.run.model(name).report, report)
        writer.complete_model(name, comparisons)
        rows.append(_results_row(name, report, summary))
    return rows


@dataclass
class _Trained:
    """What evaluating and exporting need of a fitted model, whichever kind it is (Keras or the baseline).

    Attributes:
        outputs: `probabilities` and `embedding` of inputs as training holds them.
        export: Writes the served file; given test inputs and the trained
            model's probabilities for them, returns the report's export figures.
        saved: The file whose size the summary reports (written by `export` at the latest).
        params: Weights (Keras) or tree nodes (baseline).
    """

    history: pd.DataFrame
    best_epoch: int
    train_seconds: float
    cache_seconds: float
    train_features: np.ndarray | None
    outputs: Callable[[np.ndarray], dict[str, np.ndarray]]
    export: Callable[[np.ndarray, np.ndarray], dict]
    saved: Path
    params: int


def _fit(writer: RunWriter, name: str, weights: str | Path | None, config: TrainConfig, run: _Prepared) -> _Trained:
    """Fit one model; a Keras model is saved at once, the baseline's estimator when it is exported."""
    data, files = run.split_data(), writer.run.model(name)
    log.info("training %s on %d inputs (%d validation)", name, len(data.x_train), len(data.x_val))
    if name == BASELINE:
        fit = fit_baseline(data, run.params, seed=config.seed, on_epoch=writer.epoch_writer(name))
        return _Trained(
            fit.history,
            fit.best_epoch,
            fit.train_seconds,
            0.0,  # no backbone features to cache
            fit.train_features,
            outputs=fit.model.predict_outputs,
            export=lambda x, probs: export_baseline_checked(fit.model, files.estimator, x, probs),
            saved=files.estimator,
            params=tree_nodes(fit.model),
        )
    result = fit_model(name, data, config, weights=weights, on_epoch=writer.epoch_writer(name))
    artifacts.atomic_write(files.keras, lambda tmp: result.model.save(str(tmp)))
    model = with_embedding(result.model)
    return _Trained(
        result.history,
        result.best_epoch,
        result.train_seconds,
        result.cache_seconds,
        result.train_features,
        outputs=lambda x: predict_outputs(model, x),
        export=lambda x, probs: export_checked(result.model, files.tflite, x, probs),
        saved=files.keras,
        params=int(result.model.count_params()),
    )


def _train_one(
    writer: RunWriter, name: str, weights: str | Path | None, config: TrainConfig, run: _Prepared
) -> tuple[dict, dict, Predictions]:
    """Fit one model and write its files but the report; returns its report, summary and headline test predictions.

    The caller adds the comparison with the baseline to the report and writes it.
    """
    trained = _fit(writer, name, weights, config, run)
    files = writer.run.model(name)
    write(files.history, trained.history)
    predicted = {part: _predict_part(trained.outputs, run, part) for part in ("val", "test")}
    frames = {part: frame for part, (frame, _) in predicted.items()}
    embeddings = {part: embedding for part, (_, embedding) in predicted.items()}
    for part, (items, windows) in frames.items():
        write(files.predictions(part), items)
        if windows is not None:
            write(files.predictions(part, windows=True), windows)
    levels = prediction_levels(frames, run.class_names)
    report = model_report(
        name,
        levels,
        class_names=run.class_names,
        positive=run.positive,
        target_sensitivity=config.target_sensitivity,
        n_resamples=config.bootstrap_resamples,
        seed=config.seed,
    )
    report["no_evidence_of_skill"] = no_evidence_of_skill(report["levels"][report["level"]])
    sample = run.rows("test")[:PARITY_ITEMS]
    test_items, test_windows = frames["test"]
    trained_test = test_items if test_windows is None else test_windows
    trained_probs = trained_test[[f"prob_{c}" for c in run.class_names]].to_numpy()[: len(sample)]
    report.update(trained.export(run.encoded.x[sample], trained_probs))
    report["ood"] = _write_ood_reference(files, trained, run, embeddings)
    val, test = levels[report["level"]]
    summary = _summary(name, trained, val, run.positive)
    write(files.summary, summary)
    return report, summary, test


def _summary(name: str, trained: _Trained, val: Predictions, positive: int | None) -> dict:
    """Training facts, and the headline validation AUROC that picks the default champion."""
    return {
        "model": name,
        "best_epoch": trained.best_epoch,
        "epochs_run": int(len(trained.history)),
        "train_seconds": round(trained.train_seconds, 2),
        "cache_seconds": round(trained.cache_seconds, 2),
        "params": trained.params,
        "model_bytes": trained.saved.stat().st_size,
        "val_auc": roc_auc(val.labels, val.probs, positive=positive if positive is not None else 1),
    }


def _results_row(name: str, report: dict, summary: dict) -> dict:
    """The headline test figures of one model, as `train_run` returns them and the command line prints them."""
    headline = report["levels"][report["level"]]
    point = headline["operating_point"]
    beaten = report.get("versus_baseline")
    return {
        "model": name,
        "level": report["level"],
        "test_n": headline["n"],
        "test_accuracy": headline["accuracy"],
        "test_balanced_accuracy": headline["balanced_accuracy"],
        "test_auc": headline["auc"],
        "test_auc_low": headline["auc_ci"][0],
        "test_auc_high": headline["auc_ci"][1],
        "test_sens_at_90_spec": headline["sensitivity_at_90_specificity"],
        "test_sensitivity": point.get("sensitivity"),
        "test_specificity": point.get("specificity"),
        "threshold": point["threshold"],
        "ece": headline["calibration"]["after"]["ece"],
        "no_evidence_of_skill": report["no_evidence_of_skill"],
        "beats_baseline": None if beaten is None else beaten["significantly_better"],
        "versus_baseline": None if beaten is None else beaten["text"],
        "best_epoch": summary["best_epoch"],
        "train_seconds": summary["train_seconds"],
        "litert_ok": report["litert_parity"]["passed"],
    }


def _predict_part(
    predict: Callable[[np.ndarray], dict[str, np.ndarray]], run: _Prepared, part: str
) -> tuple[Frames, np.ndarray]:
    """Raw (uncalibrated) prediction frames of one split (per item, and per window for sounds), and its embeddings.

    `predict` answers both outputs; embeddings are per input row (window, for sounds).
    """
    rows = run.rows(part)
    owners = run.encoded.owner[rows]
    outputs = predict(run.encoded.x[rows])
    window_probs = outputs[PROBABILITIES]
    items = np.flatnonzero(run.split == part)
    if run.params.modality == "image":
        frame = prediction_frame(run.table.iloc[items], run.labels[items], window_probs, run.class_names)
        return (frame, None), outputs[EMBEDDING]
    probs = np.stack([aggregate_windows(window_probs[owners == item], run.params.aggregation) for item in items])
    frame = prediction_frame(run.table.iloc[items], run.labels[items], probs, run.class_names)
    windows = prediction_frame(run.table.iloc[owners], run.labels[owners], window_probs, run.class_names)
    windows.insert(windows.columns.get_loc("group") + 1, "start_seconds", run.encoded.start_seconds[rows])
    return (frame, windows), outputs[EMBEDDING]


def _write_ood_reference(
    files: ModelLayout, trained: _Trained, run: _Prepared, embeddings: dict[str, np.ndarray]
) -> dict:
    """Fit the out-of-distribution reference on training embeddings, calibrate it on validation, and write it.

    Returns the report's `ood` entry: the calibration and the share of the
    model's own validation and test inputs (recordings, for sounds) it flags;
    or `error` when it could not be fitted (the model is then served unchecked, saying so).
    """
    train = trained.train_features
    if train is None:
        train = trained.outputs(run.encoded.x[run.rows("train")])[EMBEDDING]
    try:
        reference = ood.fit_reference(train, embeddings["val"])
    except ValueError as exc:
        log.warning("no out-of-distribution reference for %s: %s", files.dir.name, exc)
        return {"error": str(exc)}
    write(files.ood_reference, reference.to_bytes())
    sound = run.params.modality == "sound"
    scores = {
        part: ood.input_scores(reference, embeddings[part], run.encoded.owner[run.rows(part)] if sound else None)
        for part in ("val", "test")
    }
    summary = ood.summary(reference, scores["val"], scores["test"])
    return {**summary, "reference_bytes": files.ood_reference.stat().st_size}
