"""Grouped k-fold cross-validation of each model of a run (`python -m core train --cv K`).

A single 15% test split of a few hundred items gives an AUROC interval about
0.1 wide on each side; cross-validation tests every item once instead:

    folds (whole units, stratified; `core.data.splits.assign_folds`)
    for each fold: fit on the other folds, early stopping on a validation
        part carved from them (`split_fold_<k>` in the split table), then
        predict the held-out fold
    -> out-of-fold (OOF) predictions of every item, `fold` column included
    -> figures and bootstrap intervals over all of them, with the decision
       rules fitted on the OOF predictions and the threshold-dependent
       figures cross-fitted (`core.evaluation.report.evaluate_cross_fitted`)
    -> the served model: the K fold models as ONE model, their probabilities
       averaged (a Keras model exported as one LiteRT file through the parity
       check, or the baseline's estimators averaged in one joblib file), so
       serving needs no change.

Each fold reuses the single-split steps of `core.training.run` unchanged: a
fold's `Prepared` is the run's with the fold's `split` column. A model's
`predictions_test.csv` holds its OOF predictions, and its summary's `val_auc`
(what picks the default champion) is their AUROC: a CV run has no other
held-out part.

The served ensemble's embedding is the concatenation of the fold models'
embeddings (the baseline's features for the baseline). Its out-of-distribution
reference is fitted on that embedding of the items outside fold 0 and
calibrated on fold 0's items. Every item was training data for most fold
models, so the calibration reads distances a little smaller than unseen
in-distribution inputs give: the check errs towards flagging.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers

from core.config import TrainConfig
from core.evaluation.levels import Frames, prediction_set
from core.evaluation.report import Predictions
from core.serving.baseline import BaselineModel, MeanOfEstimators
from core.store.artifacts import atomic_write
from core.store.layout import ModelLayout
from core.store.run_writer import RunWriter, write
from core.training.export import PARITY_ITEMS, export_baseline_checked, export_checked
from core.training.fit import predict_outputs
from core.training.models import EMBEDDING, PROBABILITIES, with_embedding
from core.training.steps import (
    Prepared,
    Trained,
    cv_report,
    fit_one,
    headline_auc,
    predict_part,
    summary_of,
    write_frames,
    write_ood_reference,
    write_references,
)

log = logging.getLogger(__name__)

CALIBRATION_FOLD = 0  # whose items calibrate the ensemble's out-of-distribution threshold


def write_cv_references(writer: RunWriter, run: Prepared) -> None:
    """The quality reference, of every item: the served ensemble learnt from them all.

    Every item is a test item once, but previews are written as each model
    completes, of the items the dashboard can show of it (`shown_items`), not
    of every item: a few hundred recordings' previews weigh hundreds of MB.
    """
    write_references(writer, replace(run, table=run.table.assign(split="train")))  # no test items: no previews


def _fold_run(run: Prepared, fold: int) -> Prepared:
    """The run as fold `fold`'s model sees it: its fold is "test", the rest "train" or "val"."""
    return replace(run, table=run.table.assign(split=run.table[f"split_fold_{fold}"]))


def _folds(run: Prepared) -> int:
    return int(run.table["fold"].max()) + 1


def train_one_cv(
    writer: RunWriter, name: str, weights: str | Path | None, config: TrainConfig, run: Prepared
) -> tuple[dict, dict, Predictions]:
    """`_train_one` of a cross-validated run: fit every fold, judge the OOF predictions, serve the ensemble.

    Returns:
        The report (without the comparison with the baseline, which the
        caller adds), the summary, and the headline OOF predictions.
    """
    fits, oof = [], []
    for fold in range(_folds(run)):
        log.info("%s: fold %d of %d", name, fold + 1, _folds(run))
        fold_run = _fold_run(run, fold)
        trained = fit_one(writer, name, weights, config, fold_run, fold=fold)
        fits.append(trained)
        oof.append(predict_part(trained.outputs, fold_run, "test")[0])
    files = writer.run.model(name)
    frames = _pooled(oof, run)
    write(files.history, pd.concat([fit.history for fit in fits], ignore_index=True))
    write_frames(files, {"test": frames})  # the OOF predictions are the model's test predictions
    report = cv_report(writer, name, config, run, frames)
    facts = [{"best_epoch": fit.best_epoch, "train_seconds": round(fit.train_seconds, 2)} for fit in fits]
    report["cv"] = cv_entry(frames[0], run, facts)
    ensemble = _ensemble(name, fits, run, files)
    report.update(_export_and_reference(files, ensemble, run))
    headline = prediction_set(frames[0], run.class_names)
    summary = {**summary_of(name, ensemble, headline, run.positive), **_fold_figures(fits), "cv": report["cv"]}
    write(files.summary, summary)
    return report, summary, headline


def _pooled(per_fold: list[Frames], run: Prepared) -> Frames:
    """The folds' prediction frames as one, with `fold`: items in split-table order, windows in input-row order."""
    folds = run.table["fold"].to_numpy()
    items = pd.concat([frame.assign(fold=fold) for fold, (frame, _) in enumerate(per_fold)], ignore_index=True)
    item_order = np.argsort(np.concatenate([np.flatnonzero(folds == fold) for fold in range(len(per_fold))]))
    items = items.iloc[item_order].reset_index(drop=True)
    if per_fold[0][1] is None:
        return items, None
    windows = pd.concat([w.assign(fold=fold) for fold, (_, w) in enumerate(per_fold)], ignore_index=True)
    row_folds = folds[run.encoded.owner]
    row_order = np.argsort(np.concatenate([np.flatnonzero(row_folds == fold) for fold in range(len(per_fold))]))
    return items, windows.iloc[row_order].reset_index(drop=True)


def cv_entry(items: pd.DataFrame, run: Prepared, facts: list[dict]) -> dict:
    """The report's `cv`: K, and per fold its held-out size and AUROC (raw OOF probabilities, headline level).

    Args:
        items: The OOF item-level predictions, with `fold`.
        facts: Per fold, what else the model knows of it (a fit's kept epoch and time; a blend's parts' time).
    """
    folds = []
    for fold, known in enumerate(facts):
        held = items[items["fold"] == fold]
        auc = headline_auc(prediction_set(held, run.class_names), run.positive)
        folds.append({"fold": fold, "n_test": int(len(held)), "auc": auc, **known})
    return {"k": len(facts), "predictions": "out-of-fold", "folds": folds}


def _fold_figures(fits: list[Trained]) -> dict:
    """The summary's per-model training facts for K fits: the median kept epoch, the longest fit's epochs."""
    return {
        "best_epoch": int(np.median([fit.best_epoch for fit in fits])),
        "epochs_run": int(max(len(fit.history) for fit in fits)),
    }


def keras_ensemble(models: list[keras.Model], name: str) -> keras.Model:
    """One Keras model answering the mean of `models`' probabilities and the concatenation of their embeddings.

    Each member keeps its layers and weights (renamed `fold_<k>`, since a
    model's layer names must be unique); the output is a dict like
    `with_embedding`'s, so it is exported and served as any single model.
    """
    inputs = keras.Input(shape=models[0].input_shape[1:], name="input")
    outputs = []
    for fold, model in enumerate(models):
        embedded = with_embedding(model)
        outputs.append(keras.Model(embedded.input, embedded.output, name=f"fold_{fold}")(inputs))
    probabilities = layers.Average(name="mean_probabilities")([out[PROBABILITIES] for out in outputs])
    embedding = layers.Concatenate(name="fold_embeddings")([out[EMBEDDING] for out in outputs])
    return keras.Model(inputs, {PROBABILITIES: probabilities, EMBEDDING: embedding}, name=name)


def _ensemble(name: str, fits: list[Trained], run: Prepared, files: ModelLayout) -> Trained:
    """The fold models as one `Trained`: what the run serves, and evaluates the served file against.

    Its history is every fold's; its time and size are the folds' sums.
    """
    common = {
        "history": pd.concat([fit.history for fit in fits], ignore_index=True),
        "best_epoch": _fold_figures(fits)["best_epoch"],
        "train_seconds": sum(fit.train_seconds for fit in fits),
        "cache_seconds": sum(fit.cache_seconds for fit in fits),
        "train_features": None,
        "params": sum(fit.params for fit in fits),
    }
    if isinstance(fits[0].model, BaselineModel):
        served = BaselineModel(MeanOfEstimators([fit.model.estimator for fit in fits]), run.params)
        return Trained(
            **common,
            outputs=served.predict_outputs,
            export=lambda x, probs: export_baseline_checked(served, files.estimator, x, probs),
            saved=files.estimator,
            model=served,
        )
    model = keras_ensemble([fit.model for fit in fits], name)
    atomic_write(files.keras, lambda tmp: model.save(str(tmp)))
    return Trained(
        **common,
        outputs=lambda x: predict_outputs(model, x),
        export=lambda x, probs: export_checked(model, files.tflite, x, probs),
        saved=files.keras,
        model=model,
    )


def _export_and_reference(files: ModelLayout, ensemble: Trained, run: Prepared) -> dict:
    """Export the ensemble (with its parity check), then fit its out-of-distribution reference.

    Returns the report's export entries and `ood`.
    """
    all_items = replace(run, table=run.table.assign(split="test"))
    _, embeddings = predict_part(ensemble.outputs, all_items, "test")
    sample = all_items.rows("test")[:PARITY_ITEMS]
    x = run.encoded.x[sample]
    figures = ensemble.export(x, ensemble.outputs(x)[PROBABILITIES])
    row_folds = run.table["fold"].to_numpy()[run.encoded.owner]
    calibration = row_folds == CALIBRATION_FOLD
    sound = run.params.modality == "sound"
    owners = (
        {"val": run.encoded.owner[calibration], "test": run.encoded.owner} if sound else {"val": None, "test": None}
    )
    parts = {"val": embeddings[calibration], "test": embeddings}
    ood_entry = write_ood_reference(files, embeddings[~calibration], parts, owners)
    if "error" not in ood_entry:  # every item trained most fold models: the flagged shares are in-sample
        ood_entry["flagged_in_sample"] = True
    return {**figures, "ood": ood_entry}
