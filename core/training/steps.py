"""The steps of fitting and judging one model on one split table, shared by `core.training.run` (one split)
and `core.training.cv` (one fit per fold): the prepared inputs, a fit, its predictions of one part, its
summary, and the references (previews, quality, out-of-distribution) later readers compare against.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from core.config import BASELINE, TrainConfig
from core.errors import CoreError
from core.evaluation import ood
from core.evaluation.decision import CLASS_SAMPLE, GALLERY_CARDS, headline_decisions
from core.evaluation.guardrails import no_evidence_of_skill
from core.evaluation.levels import Frames, cv_model_report, model_report, prediction_frame, prediction_levels
from core.evaluation.metrics import roc_auc
from core.evaluation.report import Predictions
from core.inputs.preprocess import Preprocessing, aggregate_windows
from core.inputs.previews import previews
from core.inputs.quality import image_reference
from core.serving.baseline import BaselineModel
from core.store import artifacts
from core.store.layout import ModelLayout
from core.store.run_writer import RunWriter, write
from core.training.baseline import fit_baseline, tree_nodes
from core.training.encode import Encoded, thread_map
from core.training.export import PARITY_ITEMS, export_baseline_checked, export_checked
from core.training.fit import SplitData, fit_model, predict_outputs
from core.training.models import EMBEDDING, PROBABILITIES, with_embedding
from core.training.shards import InputRows

log = logging.getLogger(__name__)


QUALITY_REFERENCE_IMAGES = 5000


@dataclass
class Prepared:
    """Everything a run knows after auditing, splitting and preprocessing.

    Attributes:
        table: The split table (`core.data.splits.split_table`), one row per
            usable item: the items trained and evaluated on, in encoding order.
        labels: Class index of each usable item.
        encoded: The items' model inputs, read lazily from the input cache.
    """

    table: pd.DataFrame
    labels: np.ndarray
    class_names: list[str]
    positive: int | None
    params: Preprocessing
    encoded: Encoded

    @property
    def cross_validated(self) -> bool:
        """Whether the split table holds folds (`--cv K`) rather than one train/val/test split."""
        return "fold" in self.table

    @property
    def split(self) -> np.ndarray:
        return self.table["split"].to_numpy()

    def rows(self, part: str) -> np.ndarray:
        """Input rows (images or windows) of one split."""
        return np.flatnonzero(self.split[self.encoded.owner] == part)

    def inputs(self, part: str) -> InputRows:
        """The model inputs of one split, as a lazy view: rows are read from the input cache when indexed."""
        return self.encoded.x.subset(self.rows(part))

    def split_data(self) -> SplitData:
        """Training and validation inputs (lazy views) with their labels (per window, for sounds)."""
        train_rows, val_rows = self.rows("train"), self.rows("val")
        return SplitData(
            x_train=self.inputs("train"),
            y_train=self.labels[self.encoded.owner[train_rows]],
            x_val=self.inputs("val"),
            y_val=self.labels[self.encoded.owner[val_rows]],
            modality=self.params.modality,
            num_classes=len(self.class_names),
        )


def write_references(writer: RunWriter, run: Prepared) -> None:
    """What later readers compare against: (images) the training images' quality; previews come with each model.

    The quality reference (1st/99th brightness percentiles, 1st sharpness
    percentile) is estimated from at most about `QUALITY_REFERENCE_IMAGES`
    training images, evenly spaced, streamed from the input cache a block at a
    time: a few thousand pin those percentiles, and the whole training set would
    cost a minute per 50,000 images.
    """
    if run.params.modality == "image":
        train = run.inputs("train")
        sample = train.subset(slice(None, None, max(1, len(train) // QUALITY_REFERENCE_IMAGES)))
        write(writer.run.quality_reference, image_reference(sample))


def write_previews(writer: RunWriter, run: Prepared, items: pd.DataFrame) -> None:
    """A picture (and for sounds the recording) of each of `items` not yet previewed: the dashboard reads no dataset.

    Args:
        items: Rows with the item's `path` and content `sha256` (which names its previews).
    """
    todo = items.drop_duplicates("sha256")
    todo = todo[~todo["sha256"].map(lambda digest: writer.run.preview(digest).exists()).astype(bool)]

    def store(row: tuple[str, str]) -> None:
        path, digest = row
        try:
            writer.write_previews(digest, previews(path, run.params))
        except (CoreError, OSError) as exc:
            log.warning("no preview of %s: %s", path, exc)

    thread_map(store, list(zip(todo["path"], todo["sha256"], strict=True)))


def shown_items(items: pd.DataFrame, headline: dict, class_names: list[str], positive: int | None) -> pd.DataFrame:
    """The test items the dashboard's errors gallery can show of one model, and a sample of each class.

    The gallery (`app_train_dashboard.tables.worst_errors`) shows the
    `GALLERY_CARDS` misclassified items of highest loss, -log p(true class),
    under any true-class and predicted-class filter, with the model's headline
    temperature and operating point. Any filter's worst are among the worst of
    their own (true, predicted) cell, so the `GALLERY_CARDS` worst of every
    cell (with those tied with the last) cover every view. The first
    `CLASS_SAMPLE` items of each class are kept besides, so that a reader sees
    what each class looks like when the model is right.

    Args:
        items: The model's test prediction frame (`predictions_test.csv`).
        headline: The headline level of the model's report (`temperature`, `operating_point`).
    """
    raw = items[[f"prob_{c}" for c in class_names]].to_numpy(float)
    _, called, loss = headline_decisions(raw, items["label_index"].to_numpy(), headline, positive=positive)
    frame = items.assign(called=called, loss=loss)
    wrong = frame[frame["label_index"] != frame["called"]]
    rank = wrong.groupby(["label_index", "called"])["loss"].rank(method="min", ascending=False)
    kept = wrong.index[rank <= GALLERY_CARDS].union(frame.groupby("label_index").head(CLASS_SAMPLE).index)
    return items.loc[kept]


def judge_report(writer: RunWriter, run: Prepared, report: dict, test_items: pd.DataFrame) -> None:
    """Mark a model's report with its skill verdict and keep the previews its errors gallery can show.

    A single-split model and a cross-validated one both do this once their
    report is made: both read the report's headline level, so the verdict and
    the previews can never be judged on different figures.

    Args:
        test_items: The model's item-level test predictions (out of fold for `--cv`).
    """
    headline = report["levels"][report["level"]]
    report["no_evidence_of_skill"] = no_evidence_of_skill(headline)
    write_previews(writer, run, shown_items(test_items, headline, run.class_names, run.positive))


def split_report(
    writer: RunWriter, name: str, config: TrainConfig, run: Prepared, frames: dict[str, Frames]
) -> tuple[dict, tuple[Predictions, Predictions]]:
    """A single-split model's judged report (`model_report`, `judge_report`) from its validation and test frames.

    A fitted model and a blend (`core.training.blend`) are both judged here, so
    their figures are made by the same call with the same options.

    Returns:
        The report (without `versus_baseline`) and the headline level's (validation, test) predictions.
    """
    levels = prediction_levels(frames, run.class_names)
    report = model_report(name, levels, **_report_options(config, run))
    judge_report(writer, run, report, frames["test"][0])
    return report, levels[report["level"]]


def cv_report(writer: RunWriter, name: str, config: TrainConfig, run: Prepared, oof: Frames) -> dict:
    """`split_report` of a cross-validated model: its judged `cv_model_report` from out-of-fold frames."""
    report = cv_model_report(name, oof, **_report_options(config, run))
    judge_report(writer, run, report, oof[0])
    return report


def _report_options(config: TrainConfig, run: Prepared) -> dict:
    return {
        "class_names": run.class_names,
        "positive": run.positive,
        "target_sensitivity": config.target_sensitivity,
        "n_resamples": config.bootstrap_resamples,
        "seed": config.seed,
    }


def write_frames(files: ModelLayout, frames: dict[str, Frames]) -> None:
    """A model's prediction frames by part ("val", "test"): `predictions_<part>.csv`, and windows for sounds."""
    for part, (items, windows) in frames.items():
        write(files.predictions(part), items)
        if windows is not None:
            write(files.predictions(part, windows=True), windows)


def parity_sample(run: Prepared, test: Frames) -> tuple[np.ndarray, np.ndarray]:
    """The first `PARITY_ITEMS` test inputs, and the trained probabilities for them from the test frames.

    The export's parity check compares the served file with these: the rows
    are windows for sounds (what a runner takes), items for images.
    """
    sample = run.rows("test")[:PARITY_ITEMS]
    items, windows = test
    trained = items if windows is None else windows
    return run.encoded.x[sample], trained[[f"prob_{c}" for c in run.class_names]].to_numpy()[: len(sample)]


@dataclass
class Trained:
    """What evaluating and exporting need of a fitted model, whichever kind it is (Keras or the baseline).

    Attributes:
        outputs: `probabilities` and `embedding` of inputs as training holds them.
        export: Writes the served file; given test inputs and the trained
            model's probabilities for them, returns the report's export figures.
        saved: The file whose size the summary reports (written by `export` at the latest).
        params: Weights (Keras) or tree nodes (baseline).
        model: The fitted model (a Keras model, or the baseline's runner), for
            cross-validation's ensemble of fold models (`core.training.cv`).
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
    model: keras.Model | BaselineModel


def fit_one(
    writer: RunWriter,
    name: str,
    weights: str | Path | None,
    config: TrainConfig,
    run: Prepared,
    *,
    fold: int | None = None,
) -> Trained:
    """Fit one model; a Keras model is saved at once, the baseline's estimator when it is exported.

    Args:
        fold: The cross-validation fold this fit holds out (`core.training.cv`):
            its history rows, live and kept, carry it. None for a single split.
    """
    data, files = run.split_data(), writer.run.model(name)
    log.info("training %s on %d inputs (%d validation)", name, len(data.x_train), len(data.x_val))
    on_epoch = writer.epoch_writer(name, fold=fold)
    if name == BASELINE:
        fit = fit_baseline(data, run.params, seed=config.seed, on_epoch=on_epoch)
        return Trained(
            _with_fold(fit.history, fold),
            fit.best_epoch,
            fit.train_seconds,
            0.0,  # no backbone features to cache
            fit.train_features,
            outputs=fit.model.predict_outputs,
            export=lambda x, probs: export_baseline_checked(fit.model, files.estimator, x, probs),
            saved=files.estimator,
            params=tree_nodes(fit.model),
            model=fit.model,
        )
    result = fit_model(name, data, config, weights=weights, on_epoch=on_epoch)
    artifacts.atomic_write(files.keras, lambda tmp: result.model.save(str(tmp)))
    model = with_embedding(result.model)
    return Trained(
        _with_fold(result.history, fold),
        result.best_epoch,
        result.train_seconds,
        result.cache_seconds,
        result.train_features,
        outputs=lambda x: predict_outputs(model, x),
        export=lambda x, probs: export_checked(result.model, files.tflite, x, probs),
        saved=files.keras,
        params=int(result.model.count_params()),
        model=result.model,
    )


def _with_fold(history: pd.DataFrame, fold: int | None) -> pd.DataFrame:
    return history if fold is None else history.assign(fold=fold)


def summary_of(name: str, trained: Trained, val: Predictions, positive: int | None) -> dict:
    """Training facts, and the headline validation AUROC that picks the default champion."""
    return {
        "model": name,
        "best_epoch": trained.best_epoch,
        "epochs_run": int(len(trained.history)),
        "train_seconds": round(trained.train_seconds, 2),
        "cache_seconds": round(trained.cache_seconds, 2),
        "params": trained.params,
        "model_bytes": trained.saved.stat().st_size,
        "val_auc": headline_auc(val, positive),
    }


def headline_auc(predictions: Predictions, positive: int | None) -> float | None:
    """The AUROC that picks the default champion: the positive class's for two classes, one-vs-rest macro for more."""
    return roc_auc(predictions.labels, predictions.probs, positive=positive if positive is not None else 1)


def predict_part(
    predict: Callable[[np.ndarray], dict[str, np.ndarray]], run: Prepared, part: str
) -> tuple[Frames, np.ndarray]:
    """Raw (uncalibrated) prediction frames of one split (per item, and per window for sounds), and its embeddings.

    `predict` answers both outputs; embeddings are per input row (window, for sounds).
    """
    rows = run.rows(part)
    owners = run.encoded.owner[rows]
    outputs = predict(run.inputs(part))
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


def ood_reference_of(files: ModelLayout, trained: Trained, run: Prepared, embeddings: dict[str, np.ndarray]) -> dict:
    """Fit the out-of-distribution reference on training embeddings, calibrate it on validation, and write it.

    Returns the report's `ood` entry: the calibration and the share of the
    model's own validation and test inputs (recordings, for sounds) it flags;
    or `error` when it could not be fitted (the model is then served unchecked, saying so).
    """
    train = trained.train_features
    if train is None:
        train = trained.outputs(run.inputs("train"))[EMBEDDING]
    sound = run.params.modality == "sound"
    owners = {part: run.encoded.owner[run.rows(part)] if sound else None for part in ("val", "test")}
    return write_ood_reference(files, train, embeddings, owners)


def write_ood_reference(
    files: ModelLayout, train: np.ndarray, embeddings: dict[str, np.ndarray], owners: dict[str, np.ndarray | None]
) -> dict:
    """Fit the reference on `train` embeddings, calibrate it on `embeddings["val"]`, write it; the report's `ood`.

    Args:
        embeddings: "val" and "test" embeddings, one row per model input.
        owners: Per part, the item of each embedding row (sounds: scores are
            per recording), or None when rows are items.
    """
    try:
        reference = ood.fit_reference(train, embeddings["val"])
    except ValueError as exc:
        log.warning("no out-of-distribution reference for %s: %s", files.dir.name, exc)
        return {"error": str(exc)}
    write(files.ood_reference, reference.to_bytes())
    scores = {part: ood.input_scores(reference, embeddings[part], owners[part]) for part in ("val", "test")}
    summary = ood.summary(reference, scores["val"], scores["test"])
    return {**summary, "reference_bytes": files.ood_reference.stat().st_size}
