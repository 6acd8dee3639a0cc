"""Predictions at the levels a model is judged at: items (images), or recordings and windows (sounds).

A prediction frame is what a run stores per split (`predictions_<part>.csv`):
one row per item or window with its identity (`path`, `sha256`, `group`),
its label and the model's raw probabilities. `prediction_levels` turns the
frames of validation and test into `Predictions` per level, headline first,
and `model_report` evaluates every level. A cross-validated run's frames are
out-of-fold predictions with a `fold` column, evaluated by `cv_model_report`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.evaluation.report import Predictions, evaluate_cross_fitted, evaluate_level

KEY_COLUMNS = ("path", "sha256", "group")
Frames = tuple[pd.DataFrame, pd.DataFrame | None]


def prediction_frame(
    keys: pd.DataFrame, labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """One row per prediction: `path, sha256, group, label, label_index, prob_<class>..., predicted`.

    Args:
        keys: The `KEY_COLUMNS` of each row's item (a run's split table, indexed to the rows).
        labels: (n,) class indices.
        probs: (n, n_classes) raw probabilities, in `class_names` order.
        class_names: The classes; `predicted` is the most probable one.
    """
    frame = keys.loc[:, list(KEY_COLUMNS)].reset_index(drop=True)
    frame["label"] = [class_names[i] for i in labels]
    frame["label_index"] = labels
    for index, name in enumerate(class_names):
        frame[f"prob_{name}"] = probs[:, index]
    frame["predicted"] = [class_names[i] for i in probs.argmax(axis=1)]
    return frame


def prediction_set(frame: pd.DataFrame, class_names: Sequence[str], *, group_by_path: bool = False) -> Predictions:
    """A prediction frame as `Predictions`; window rows are grouped by recording unless a group is known."""
    groups = frame["group"].fillna("").astype(str).to_numpy()
    if group_by_path:
        groups = np.where(groups == "", frame["path"].astype(str).to_numpy(), groups)
    probs = frame[[f"prob_{name}" for name in class_names]].to_numpy()
    return Predictions(frame["label_index"].to_numpy(), probs, groups)


def prediction_levels(
    frames: dict[str, Frames], class_names: Sequence[str]
) -> dict[str, tuple[Predictions, Predictions]]:
    """(validation, test) `Predictions` per level, headline first.

    Args:
        frames: {"val": (items, windows), "test": (items, windows)}; windows is None for images.
    """
    (val_items, val_windows), (test_items, test_windows) = frames["val"], frames["test"]
    items = (prediction_set(val_items, class_names), prediction_set(test_items, class_names))
    if val_windows is None or test_windows is None:
        return {"item": items}
    windows = (
        prediction_set(val_windows, class_names, group_by_path=True),
        prediction_set(test_windows, class_names, group_by_path=True),
    )
    return {"recording": items, "window": windows}


def model_report(
    name: str,
    levels: dict[str, tuple[Predictions, Predictions]],
    *,
    class_names: Sequence[str],
    positive: int | None,
    target_sensitivity: float | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """A model's report: `model`, the headline `level`, and `levels` with `evaluate_level`'s figures for each."""
    evaluated = {
        level: evaluate_level(
            val,
            test,
            class_names=class_names,
            positive=positive,
            target_sensitivity=target_sensitivity,
            n_resamples=n_resamples,
            seed=seed,
        )
        for level, (val, test) in levels.items()
    }
    return {"model": name, "level": next(iter(levels)), "levels": evaluated}


def cv_model_report(
    name: str,
    oof: Frames,
    *,
    class_names: Sequence[str],
    positive: int | None,
    target_sensitivity: float | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """`model_report`'s shape for out-of-fold predictions: every level evaluated by `evaluate_cross_fitted`.

    Args:
        oof: (items, windows) out-of-fold prediction frames, each row with the
            `fold` its item was held out in; windows is None for images.
    """
    items, windows = oof
    sets = {"item" if windows is None else "recording": (prediction_set(items, class_names), items)}
    if windows is not None:
        sets["window"] = (prediction_set(windows, class_names, group_by_path=True), windows)
    evaluated = {
        level: evaluate_cross_fitted(
            predictions,
            frame["fold"].to_numpy(),
            class_names=class_names,
            positive=positive,
            target_sensitivity=target_sensitivity,
            n_resamples=n_resamples,
            seed=seed,
        )
        for level, (predictions, frame) in sets.items()
    }
    return {"model": name, "level": next(iter(sets)), "levels": evaluated}
