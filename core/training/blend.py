"""A blend of a run's model and its baseline: their raw probabilities averaged, judged and served like any model.

On heart sounds (grouped 5-fold CV) the mean of the custom CNN's and the
baseline's window probabilities beat the CNN alone in every fold, as the
PhysioNet 2016 winner's blend of boosted features and a CNN did. So every
run makes `<model>_blend` for each model but the baseline
(`TrainConfig.blends`), after all of them are trained:

    the parts' written prediction frames (rows checked to match)
    -> raw probabilities averaged, weights 0.5/0.5 fixed in advance (never
       tuned, so the test figures stay honest); sounds: windows averaged,
       then aggregated per recording as the run aggregates (`aggregate_windows`)
    -> judged by the same calls as a fitted model (`steps.split_report`, or
       `steps.cv_report` with `--cv`)
    -> `blend.json` (`core.serving.blend.recipe`): the parts' served files and
       their SHA-256; serving opens the parts only if they are unchanged
    -> the served blend checked against the mean of the parts on test inputs

Its embedding is its model part's, so its out-of-distribution reference and
report entry are that part's. It has no model file and no learning history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import BASELINE, TrainConfig
from core.evaluation.levels import Frames, prediction_set
from core.evaluation.report import Predictions
from core.inputs.preprocess import Preprocessing, aggregate_windows, as_model_input
from core.serving.blend import recipe
from core.serving.runner import open_runner, served_file
from core.store.artifacts import read_json
from core.store.layout import ModelLayout
from core.store.run_writer import RunWriter, write
from core.training.cv import cv_entry
from core.training.export import served_figures
from core.training.steps import (
    Prepared,
    cv_report,
    headline_auc,
    parity_sample,
    split_report,
    write_frames,
)

WEIGHTS = (0.5, 0.5)  # fixed before any test figure was seen: tuning them on validation would overfit a few items
ROW_KEYS = ("path", "sha256", "start_seconds", "fold")  # what must match, row by row, where a frame has it


def train_blend(
    writer: RunWriter, name: str, model: str, config: TrainConfig, run: Prepared
) -> tuple[dict, dict, Predictions]:
    """Make the blend `name` of `model` and the baseline, from their written files; write all but its report.

    Returns:
        As `_train_one` does: the report (the caller adds `versus_baseline`
        and writes it), the summary, and the headline test predictions.
    """
    parts = (model, BASELINE)
    files = writer.run.model(name)
    write(files.blend, recipe(files, parts, WEIGHTS, embedding_from=model))
    judged = _judged_cv if run.cross_validated else _judged_split
    report, val, test, frames = judged(writer, name, parts, config, run)
    report["blend"] = {"parts": list(parts), "weights": list(WEIGHTS)}
    report.update(_export_figures(writer, files, parts, run, frames))
    report["ood"] = _ood_of(files, writer.run.model(model))
    summary = {**_summary(writer, name, parts, val, run), "model_bytes": report["litert_bytes"]}
    if "cv" in report:
        summary["cv"] = report["cv"]
    write(files.summary, summary)
    return report, summary, test


def _judged_split(
    writer: RunWriter, name: str, parts: tuple[str, ...], config: TrainConfig, run: Prepared
) -> tuple[dict, Predictions, Predictions, Frames]:
    """The blend's validation and test frames, written and judged as `_train_one` judges a model's.

    Returns:
        The report, the headline (validation, test) predictions, and the test frames.
    """
    frames = {part: blended(writer, parts, part, run) for part in ("val", "test")}
    write_frames(writer.run.model(name), frames)
    report, (val, test) = split_report(writer, name, config, run, frames)
    return report, val, test, frames["test"]


def _judged_cv(
    writer: RunWriter, name: str, parts: tuple[str, ...], config: TrainConfig, run: Prepared
) -> tuple[dict, Predictions, Predictions, Frames]:
    """The blend of the parts' out-of-fold predictions, judged as `train_one_cv` judges a model's.

    Each item's blended probability is the mean of its own fold's two models,
    neither of which saw it: out of fold, as its parts' are. The headline OOF
    predictions also stand for validation (a CV run has no other held-out part).
    """
    oof = blended(writer, parts, "test", run)
    write_frames(writer.run.model(name), {"test": oof})
    report = cv_report(writer, name, config, run, oof)
    folds = [read_json(writer.run.model(part).report)["cv"]["folds"] for part in parts]
    facts = [
        {"best_epoch": None, "train_seconds": round(sum(f["train_seconds"] for f in fold), 2)}
        for fold in zip(*folds, strict=True)
    ]
    report["cv"] = cv_entry(oof[0], run, facts)
    headline = prediction_set(oof[0], run.class_names)
    return report, headline, headline, oof


def blended(writer: RunWriter, parts: tuple[str, ...], part: str, run: Prepared) -> Frames:
    """The blend's prediction frames of one split ("val" or "test"), from its parts' written frames."""
    frames = [read_frames(writer.run.model(name), part) for name in parts]
    return blend_frames(frames, run.class_names, run.params)


def blend_frames(frames: list[Frames], class_names: list[str], params: Preprocessing) -> Frames:
    """The blend of its parts' (items, windows) frames of one split.

    Sounds: the windows are averaged, then each recording's windows are
    aggregated as the run aggregates them (`predict_part` does the same), so
    with "max" aggregation a recording's blend is not the mean of its parts'.

    Args:
        params: The run's preprocessing; for sounds, its window `aggregation`.
    """
    items = mean_frame([items for items, _ in frames], class_names)
    if frames[0][1] is None:
        return items, None
    windows = mean_frame([windows for _, windows in frames], class_names)
    return aggregated(items, windows, class_names, params.aggregation), windows


def read_frames(files: ModelLayout, part: str) -> Frames:
    """A model's written (items, windows) prediction frames of one split; windows None for images."""
    windows = files.predictions(part, windows=True)
    return pd.read_csv(files.predictions(part)), pd.read_csv(windows) if windows.is_file() else None


def mean_frame(frames: list[pd.DataFrame], class_names: list[str]) -> pd.DataFrame:
    """The first frame with the `WEIGHTS`-weighted mean of every frame's raw probabilities, row by row.

    Raises:
        ValueError: the frames' rows are not the same items (windows, folds) in the same order.
    """
    keys = [key for key in ROW_KEYS if key in frames[0].columns]
    for frame in frames[1:]:
        if len(frame) != len(frames[0]) or not frame[keys].equals(frames[0][keys]):
            raise ValueError("a blend's parts did not predict the same rows in the same order")
    probs = sum(w * _probabilities(frame, class_names) for w, frame in zip(WEIGHTS, frames, strict=True))
    return _with_probabilities(frames[0], probs, class_names)


def aggregated(items: pd.DataFrame, windows: pd.DataFrame, class_names: list[str], aggregation: str) -> pd.DataFrame:
    """`items` with each recording's probabilities made from its rows of `windows` (`aggregate_windows`)."""
    rows = windows.groupby("path", sort=False).indices
    probs = _probabilities(windows, class_names)
    per_item = [aggregate_windows(probs[rows[path]], aggregation) for path in items["path"]]
    return _with_probabilities(items, np.stack(per_item), class_names)


def _probabilities(frame: pd.DataFrame, class_names: list[str]) -> np.ndarray:
    return frame[[f"prob_{c}" for c in class_names]].to_numpy(float)


def _with_probabilities(frame: pd.DataFrame, probs: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """`frame` with these raw probabilities, and the class each calls (`predicted`), as `prediction_frame` writes."""
    frame = frame.copy()
    frame[[f"prob_{c}" for c in class_names]] = probs
    frame["predicted"] = [class_names[i] for i in probs.argmax(axis=1)]
    return frame


def _export_figures(writer: RunWriter, files: ModelLayout, parts: tuple[str, ...], run: Prepared, test: Frames) -> dict:
    """The blend as serving opens it (`open_runner`), checked on test inputs as every exported model is.

    Single split: against the blended test frames, the mean of what the
    trained parts predicted. With `--cv` those are out of fold while the
    served parts are the fold ensembles: the served blend is compared with
    the mean of the served parts (that the recipe opens as written), and its
    parity is its parts' own checks, on the same inputs, weighted: a bound on
    its difference from the trained ensembles averaged (`_parity_of_parts`).
    """
    x, trained = parity_sample(run, test)
    if run.cross_validated and len(x):
        inputs = as_model_input(x)
        runners = [open_runner(writer.run.model(part)) for part in parts]
        trained = sum(w * runner.predict(inputs) for w, runner in zip(WEIGHTS, runners, strict=True))
    size = sum(served_file(writer.run.model(part)).stat().st_size for part in parts)
    runtimes = " + ".join(read_json(writer.run.model(part).report)["runtime"] for part in parts)
    figures = served_figures(open_runner(files), x, trained, runtime=f"blend ({runtimes})", size=size)
    if run.cross_validated:
        figures["litert_parity"] = _parity_of_parts(writer, parts, figures["litert_parity"])
    return figures


def _parity_of_parts(writer: RunWriter, parts: tuple[str, ...], opened: dict) -> dict:
    """A cross-validated blend's parity: the mean of served parts matches itself, so only its parts' checks say
    anything. |sum w (served - trained)| <= sum w |served - trained|: their weighted differences bound its own."""
    checks = [read_json(writer.run.model(part).report)["litert_parity"] for part in parts]
    bound = sum(w * check["max_abs_diff"] for w, check in zip(WEIGHTS, checks, strict=True))
    passed = opened["passed"] and all(check["passed"] for check in checks)
    return {**opened, "max_abs_diff": max(opened["max_abs_diff"], bound), "passed": passed}


def _ood_of(files: ModelLayout, model: ModelLayout) -> dict:
    """The model part's out-of-distribution reference and report entry: the blend's embedding is that part's."""
    if model.ood_reference.is_file():
        write(files.ood_reference, model.ood_reference.read_bytes())
    return read_json(model.report)["ood"]


def _summary(writer: RunWriter, name: str, parts: tuple[str, ...], val: Predictions, run: Prepared) -> dict:
    """`summary_of`'s facts for a blend but its size: nothing was trained, so its time is its parts' sum."""
    summaries = [read_json(writer.run.model(part).summary) for part in parts]
    return {
        "model": name,
        "parts": list(parts),
        "best_epoch": None,
        "epochs_run": 0,
        "train_seconds": round(sum(s["train_seconds"] for s in summaries), 2),
        "cache_seconds": round(sum(s.get("cache_seconds", 0.0) for s in summaries), 2),
        "params": sum(s["params"] for s in summaries),
        "val_auc": headline_auc(val, run.positive),
    }
