"""One training run, from data sources to a complete run directory.

    load -> check models -> audit -> split -> write inputs and previews
         -> preprocess -> fit each model -> predict validation and test
         -> evaluate, export, compare -> mark the run complete

`train_run` returns the run id and a DataFrame with one row of headline
figures per model. The steps live elsewhere: `encode` (threaded
preprocessing into the input cache), `steps` (one model's fit, predictions
and references, shared with `cv`), `fit` (Keras), `baseline` (features and gradient boosting),
`core.evaluation.levels` (prediction frames and reports), `export` (LiteRT,
or the baseline's estimator) and `core.store.run_writer` (the files).

Every run trains the baseline first (`TrainConfig.run_models`): each other
model's report says whether it significantly beats it (`versus_baseline`).
Then each other model is blended with the baseline (`TrainConfig.blends`,
`core.training.blend`): a candidate model like the others, made from their
predictions without training.

With `--cv K` (`DataOptions.cv`) the split table holds folds instead, and
`core.training.cv` fits each model once per fold with these same steps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import BASELINE, DataOptions, TrainConfig
from core.data.audit import audit_dataset
from core.data.dataset import load_dataset
from core.data.splits import assign_folds, assign_splits, fold_split, linked_units, split_table
from core.errors import InvalidInput
from core.evaluation.comparisons import compare_models, versus
from core.evaluation.report import Predictions
from core.inputs.preprocess import ImagePreprocessing, Preprocessing, SoundPreprocessing
from core.store.run_writer import RunWriter, write
from core.store.stamps import new_run_id
from core.training import cv
from core.training.augment import choose_augmentation
from core.training.blend import train_blend
from core.training.devices import training_devices
from core.training.encode import encode
from core.training.models import BACKBONES, build_backbone, resolve_weights
from core.training.steps import (
    Prepared,
    fit_one,
    ood_reference_of,
    parity_sample,
    predict_part,
    split_report,
    summary_of,
    write_frames,
    write_references,
)

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


def train_run(
    data: DataOptions,
    config: TrainConfig,
    *,
    artifacts_dir: Path,
    image: ImagePreprocessing = ImagePreprocessing(),
    sound: SoundPreprocessing = SoundPreprocessing(),
    input_cache: Path | None = None,
    input_cache_max_bytes: float | None = None,
) -> tuple[str, pd.DataFrame]:
    """Train every model in `config.models` on one dataset and write the run; inputs are cached in `input_cache`.

    Once new inputs are written, the cache's least recently used folders are
    evicted until it fits `input_cache_max_bytes` (`INPUT_CACHE_MAX_GB`; None never evicts).

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
    class_names, positive, labels = _classes(usable, data.positive_class)
    units = linked_units([(item.group, hashes[item.path]) for item in usable])
    table = _split_table(usable, hashes, units, labels, data, config.seed)

    writer = RunWriter(artifacts_dir, new_run_id(data.dataset_name))
    log.info("run %s: %d usable %s files, classes %s", writer.run_id, len(usable), dataset.modality, class_names)
    devices = training_devices(config.precision).to_dict()  # what the Keras models train on
    models = [*config.run_models, *config.blend_models]  # the blends are made last, from the others
    writer.set_status(dataset=data.dataset_name, modality=dataset.modality, models=models, devices=devices)
    try:
        writer.write_inputs(
            config={"data": asdict(data), "training": asdict(config)},
            audit=report.to_dict(),
            split=table,
            classes={"class_names": class_names, "positive_class": None if positive is None else class_names[positive]},
            preprocessing=params.to_dict(),
        )
        encoded = encode(usable, params, cache_dir=input_cache, hashes=hashes, cache_max_bytes=input_cache_max_bytes)
        run = Prepared(table, labels, class_names, positive, params, encoded)
        trained_with = _record_augmentation(writer, data, config, run)
        if run.cross_validated:
            cv.write_cv_references(writer, run)
        else:
            write_references(writer, run)
        rows = _train_models(writer, run, trained_with, weights)
    except BaseException as exc:
        writer.fail(exc)
        raise
    writer.complete()
    return writer.run_id, pd.DataFrame(rows)


def _classes(usable: list, positive_class: str | None) -> tuple[list[str], int | None, np.ndarray]:
    """The run's class names (sorted), its positive class's index, and each usable item's class index."""
    class_names = sorted({item.label for item in usable})
    if len(class_names) < 2:
        raise InvalidInput(f"training needs at least two classes with readable files, found {class_names}")
    positive = choose_positive(class_names, positive_class)
    return class_names, positive, np.array([class_names.index(item.label) for item in usable])


def _record_augmentation(writer: RunWriter, data: DataOptions, config: TrainConfig, run: Prepared) -> TrainConfig:
    """Add the concrete `--augment` to the run's config; returns the options its models train with.

    The config is written before the inputs are encoded, so that a run that
    fails while encoding still says what it was asked to do; "auto" can only
    be made concrete once the training images are encoded.
    """
    augmentation = _augmentation(config, run)
    write(writer.run.config, {"data": asdict(data), "training": asdict(config), "augmentation": augmentation})
    return replace(config, augment=augmentation["mode"])


def _augmentation(config: TrainConfig, run: Prepared) -> dict:
    """`--augment` made concrete for every model of the run (`choose_augmentation`), from training images only.

    With `--cv` every item trains the served ensemble (each is held out by one
    fold only), so all of them are measured, as for the quality reference.
    """
    train = run.encoded.x if run.cross_validated else run.inputs("train")
    return choose_augmentation(config.augment, run.params.modality, train)


def _split_table(
    usable: list, hashes: dict, units: np.ndarray, labels: np.ndarray, data: DataOptions, seed: int
) -> pd.DataFrame:
    """The run's split table: train/val/test for each item.

    With `--cv`, every item is "test" (each is predicted out of fold), with the
    `fold` it is held out in and, per fold, its part in that fold's model
    (`split_fold_<k>`: train, val for early stopping, or test).
    """
    if data.cv is None:
        return split_table(usable, hashes, units, assign_splits(labels, units, fractions=data.split, seed=seed))
    folds = assign_folds([item.label for item in usable], units, k=data.cv, seed=seed)  # its errors name the class
    val_share = data.split[1] / (data.split[0] + data.split[1])
    roles = {
        f"split_fold_{fold}": fold_split(folds, fold, labels, units, val_fraction=val_share, seed=seed)
        for fold in range(data.cv)
    }
    return split_table(usable, hashes, units, np.full(len(usable), "test")).assign(fold=folds, **roles)


def _train_models(writer: RunWriter, run: Prepared, config: TrainConfig, weights: dict) -> list[dict]:
    """Train, evaluate and export each model in turn, refreshing the paired comparisons as each completes.

    The baseline comes first, so each later model's report can say whether it
    beats it; the blends come last (`TrainConfig.blends`), made from the
    predictions their parts have written (`core.training.blend`).
    """
    tests: dict[str, Predictions] = {}
    reports: dict[str, dict] = {}
    rows, comparisons = [], []
    train_one = cv.train_one_cv if run.cross_validated else _train_one
    jobs = [(name, partial(train_one, writer, name, weights.get(name), config, run)) for name in config.run_models]
    jobs += [(name, partial(train_blend, writer, name, part, config, run)) for name, part in config.blends.items()]
    for name, job in jobs:
        report, summary, test = job()
        tests[name], reports[name] = test, report["levels"][report["level"]]
        comparisons = compare_models(
            tests,
            reports,
            positive=run.positive,
            n_resamples=config.bootstrap_resamples,
            seed=config.seed,
            known=comparisons,
        )
        report["versus_baseline"] = versus(comparisons, name, BASELINE)
        write(writer.run.model(name).report, report)
        writer.complete_model(name, comparisons)
        rows.append(_results_row(name, report, summary))
    return rows


def _train_one(
    writer: RunWriter, name: str, weights: str | Path | None, config: TrainConfig, run: Prepared
) -> tuple[dict, dict, Predictions]:
    """Fit one model and write its files but the report; returns its report, summary and headline test predictions.

    The caller adds the comparison with the baseline to the report and writes it.
    """
    trained = fit_one(writer, name, weights, config, run)
    files = writer.run.model(name)
    write(files.history, trained.history)
    predicted = {part: predict_part(trained.outputs, run, part) for part in ("val", "test")}
    frames = {part: frame for part, (frame, _) in predicted.items()}
    embeddings = {part: embedding for part, (_, embedding) in predicted.items()}
    write_frames(files, frames)
    report, (val, test) = split_report(writer, name, config, run, frames)
    report.update(trained.export(*parity_sample(run, frames["test"])))
    report["ood"] = ood_reference_of(files, trained, run, embeddings)
    summary = summary_of(name, trained, val, run.positive)
    write(files.summary, summary)
    return report, summary, test


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
        "test_balanced_accuracy_low": headline["balanced_accuracy_ci"][0],
        "test_balanced_accuracy_high": headline["balanced_accuracy_ci"][1],
        "test_auc": headline["auc"],
        "test_auc_low": headline["auc_ci"][0],
        "test_auc_high": headline["auc_ci"][1],
        "test_sens_at_90_spec": headline["sensitivity_at_90_specificity"],
        "test_sens_at_90_spec_low": headline["sensitivity_at_90_specificity_ci"][0],
        "test_sens_at_90_spec_high": headline["sensitivity_at_90_specificity_ci"][1],
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
        "cv_folds": report["cv"]["k"] if "cv" in report else None,
        "blend_of": report["blend"]["parts"] if "blend" in report else None,
    }
