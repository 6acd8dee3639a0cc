"""The evaluation report of one model at one level: every test figure, calibrated on validation.

(Cross-validated runs have no separate validation part: `evaluate_cross_fitted`
fits the rules on out-of-fold predictions and cross-fits the figures.)

Built from predictions alone (labels, probabilities, groups), so it can be
recomputed from the CSVs a run wrote. Calibration and the operating point are
fitted on validation and only applied to test:

1. a temperature is fitted on validation probabilities (log loss);
2. for two classes, a threshold is chosen on calibrated validation
   probabilities (Youden's J, or the highest threshold reaching a target
   sensitivity), with a review band around it;
3. test figures use the calibrated probabilities and, for two classes, the
   threshold. Calibration is reported before and after step 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    confusion_matrix,
    precision_recall_curve,
    roc_curve,
)

from core.evaluation.decision import apply_temperature, predicted_classes
from core.evaluation.metrics import (
    accuracy,
    balanced_accuracy,
    bootstrap_ci,
    brier,
    expected_calibration_error,
    fit_temperature,
    log_loss_of,
    reliability_bins,
    roc_auc,
    sensitivity_at_specificity,
    threshold_for_sensitivity,
    youden_threshold,
)

DEFAULT_BAND_HALF_WIDTH = 0.15
DEFAULT_CONFIDENCE_FLOOR = 0.6
REPORTED_SPECIFICITY = 0.9  # `sensitivity_at_90_specificity`: what a screening test must reach


@dataclass
class Predictions:
    """Labels, probabilities and (optional) groups of one split at one level."""

    labels: np.ndarray
    probs: np.ndarray
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels)
        probs = np.asarray(self.probs, dtype=np.float64)
        self.probs = probs / probs.sum(axis=1, keepdims=True)  # undo rounding in saved CSVs
        if self.groups is not None:
            self.groups = np.asarray(self.groups).astype(str)
            if (self.groups == "").all():
                self.groups = None


def operating_point(val: Predictions, *, positive: int | None, target_sensitivity: float | None = None) -> dict:
    """Threshold and review band chosen on (calibrated) validation predictions.

    The review band is in the units the predictor checks: the positive
    class's probability for two classes, the top probability otherwise.
    """
    if positive is None:
        return {
            "method": "argmax",
            "threshold": None,
            "review_band": [0.0, DEFAULT_CONFIDENCE_FLOOR],
            "band_applies_to": "top_probability",
        }
    scores = val.probs[:, positive]
    if target_sensitivity is None:
        method, threshold = "youden", youden_threshold(val.labels, scores, positive=positive)
    else:
        method = f"sensitivity>={target_sensitivity:g}"
        threshold = threshold_for_sensitivity(val.labels, scores, target=target_sensitivity, positive=positive)
    band = [max(0.0, threshold - DEFAULT_BAND_HALF_WIDTH), min(1.0, threshold + DEFAULT_BAND_HALF_WIDTH)]
    return {"method": method, "threshold": threshold, "review_band": band, "band_applies_to": "positive_probability"}


def _curves(test: Predictions, class_names: Sequence[str], positive: int | None) -> tuple[dict, dict]:
    classes = [positive] if positive is not None else range(len(class_names))
    roc, pr = {}, {}
    for index in classes:
        actual = test.labels == index
        if actual.all() or not actual.any():
            continue
        scores = test.probs[:, index]
        fpr, tpr, thresholds = roc_curve(actual, scores)
        precision, recall, _ = precision_recall_curve(actual, scores)
        name = class_names[index]
        roc[name] = {
            "fpr": fpr.tolist(),
            "tpr": tpr.tolist(),
            "thresholds": np.minimum(thresholds, 1.0).tolist(),
            "auc": roc_auc(actual.astype(int), np.stack([1 - scores, scores], axis=1)),
        }
        pr[name] = {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "average_precision": float(average_precision_score(actual, scores)),
        }
    return roc, pr


def _calibration(test: Predictions, probs: np.ndarray, positive: int | None, n_bins: int) -> dict:
    bins = reliability_bins(test.labels, probs, n_bins=n_bins, positive=positive)
    return {"bins": bins, "ece": expected_calibration_error(bins), "brier": brier(test.labels, probs)}


def decision_rules(
    val: Predictions, *, positive: int | None, target_sensitivity: float | None = None
) -> tuple[float, dict]:
    """The temperature fitted on `val`, and the operating point chosen on `val` once calibrated by it."""
    temperature = fit_temperature(val.labels, val.probs)
    calibrated_val = Predictions(val.labels, apply_temperature(val.probs, temperature), val.groups)
    return temperature, operating_point(calibrated_val, positive=positive, target_sensitivity=target_sensitivity)


def evaluate_level(
    val: Predictions,
    test: Predictions,
    *,
    class_names: Sequence[str],
    positive: int | None,
    target_sensitivity: float | None = None,
    n_resamples: int = 1000,
    n_bins: int = 10,
    seed: int = 0,
) -> dict:
    """Every test figure of one model at one level (items, recordings or windows)."""
    temperature, point = decision_rules(val, positive=positive, target_sensitivity=target_sensitivity)
    calibrated = apply_temperature(test.probs, temperature)
    predicted = predicted_classes(calibrated, positive=positive, threshold=point["threshold"])
    decided = Decided(temperature, point, calibrated, predicted)
    return level_figures(
        test, decided, class_names=class_names, positive=positive, n_resamples=n_resamples, n_bins=n_bins, seed=seed
    )


@dataclass
class Decided:
    """What the decision rules made of test predictions.

    Attributes:
        temperature, point: The rules reported (and served).
        calibrated: Calibrated test probabilities.
        predicted: The class called for each test item.
        ranked: The probabilities the threshold-free figures (AUROC, sensitivity
            at 90% specificity, ROC and PR curves) rank, when not `calibrated`:
            out-of-fold predictions calibrated by the one served temperature,
            since per-fold temperatures would reorder items across folds.
    """

    temperature: float
    point: dict
    calibrated: np.ndarray
    predicted: np.ndarray
    ranked: np.ndarray | None = None


def _interval(test: Predictions, values: np.ndarray, metric, n_resamples: int, seed: int) -> tuple:
    """`bootstrap_ci` over test items (whole groups where known) of `metric(labels, values)`."""
    return bootstrap_ci(test.labels, values, metric, groups=test.groups, n_resamples=n_resamples, seed=seed)


def level_figures(
    test: Predictions,
    decided: Decided,
    *,
    class_names: Sequence[str],
    positive: int | None,
    n_resamples: int = 1000,
    n_bins: int = 10,
    seed: int = 0,
) -> dict:
    """Every figure of one level from test predictions and what the decision rules made of them."""
    calibrated, predicted = decided.calibrated, decided.predicted
    ranked = calibrated if decided.ranked is None else decided.ranked
    labels = np.arange(len(class_names))
    auc_positive = positive if positive is not None else 1
    calls = np.eye(len(class_names))[predicted]  # one-hot calls: the bootstrap resamples rows of a 2-D array
    report = {
        "n": int(len(test.labels)),
        "class_names": list(class_names),
        "temperature": decided.temperature,
        "accuracy": accuracy(test.labels, calibrated),
        "accuracy_ci": _interval(test, calibrated, accuracy, n_resamples, seed),
        "balanced_accuracy": balanced_accuracy(test.labels, predicted, n_classes=len(class_names)),
        "balanced_accuracy_ci": _interval(
            test, calls, lambda y, p: _resampled_balanced_accuracy(y, p, len(class_names)), n_resamples, seed
        ),
        "sensitivity_at_90_specificity": None,
        "sensitivity_at_90_specificity_ci": [None, None],
        "loss": log_loss_of(test.labels, test.probs),
        "loss_calibrated": log_loss_of(test.labels, calibrated),
        "auc": roc_auc(test.labels, ranked, positive=auc_positive),
        "auc_ci": _interval(test, ranked, lambda y, p: roc_auc(y, p, positive=auc_positive), n_resamples, seed),
        "bootstrap": {"resamples": n_resamples, "level": 0.95, "by_group": test.groups is not None},
        "classification_report": classification_report(
            test.labels, predicted, labels=labels, target_names=list(class_names), output_dict=True, zero_division=0
        ),
        "confusion_matrix": confusion_matrix(test.labels, predicted, labels=labels).tolist(),
        "operating_point": dict(decided.point),
        "calibration": {
            "before": _calibration(test, test.probs, positive, n_bins),
            "after": _calibration(test, calibrated, positive, n_bins),
        },
    }
    report["roc"], report["pr"] = _curves(Predictions(test.labels, ranked), class_names, positive)
    if positive is not None:
        _add_positive_class_figures(report, test, ranked[:, positive], predicted, positive, class_names[positive])
        report["sensitivity_at_90_specificity_ci"] = _interval(
            test, ranked, lambda y, p: _sensitivity_at_90(y, p[:, positive], positive), n_resamples, seed
        )
    else:
        report["f1"] = report["classification_report"]["macro avg"]["f1-score"]
    return report


def _resampled_balanced_accuracy(labels: np.ndarray, calls: np.ndarray, n_classes: int) -> float | None:
    """Balanced accuracy of one bootstrap resample; None when it drew a single class (the figure means nothing then)."""
    if len(np.unique(labels)) < 2:
        return None
    return balanced_accuracy(labels, calls.argmax(axis=1), n_classes=n_classes)


def _sensitivity_at_90(labels: np.ndarray, scores: np.ndarray, positive: int) -> float | None:
    return sensitivity_at_specificity(labels, scores, specificity=REPORTED_SPECIFICITY, positive=positive)


def _add_positive_class_figures(
    report: dict, test: Predictions, scores: np.ndarray, predicted: np.ndarray, positive: int, name: str
) -> None:
    """Two classes: sensitivity and specificity of the calls, sensitivity at 90% specificity, the positive F1."""
    actual, called = test.labels == positive, predicted == positive
    report["operating_point"].update(
        sensitivity=float(called[actual].mean()) if actual.any() else None,
        specificity=float((~called[~actual]).mean()) if (~actual).any() else None,
    )
    report["sensitivity_at_90_specificity"] = _sensitivity_at_90(test.labels, scores, positive)
    report["f1"] = report["classification_report"][name]["f1-score"]


def evaluate_cross_fitted(
    oof: Predictions,
    folds: np.ndarray,
    *,
    class_names: Sequence[str],
    positive: int | None,
    target_sensitivity: float | None = None,
    n_resamples: int = 1000,
    n_bins: int = 10,
    seed: int = 0,
) -> dict:
    """Every figure of out-of-fold predictions, with the decision rules cross-fitted.

    The temperature and operating point reported (and served) are fitted on
    all out-of-fold predictions; judged on those same predictions they would
    flatter themselves. So each fold's items are calibrated and called by
    rules fitted on the other folds' out-of-fold predictions, as unseen
    cases are by rules fitted without them. Every threshold-dependent figure
    (sensitivity, specificity, balanced accuracy, confusion matrix,
    calibration after temperature) is of those cross-fitted calls;
    `cross_fitted` lists each fold's rules.
    """
    temperature, point = decision_rules(oof, positive=positive, target_sensitivity=target_sensitivity)
    calibrated, predicted = np.empty_like(oof.probs), np.empty(len(oof.labels), dtype=int)
    rules = []
    for fold in np.unique(folds):
        held = np.asarray(folds) == fold
        others = Predictions(oof.labels[~held], oof.probs[~held], None if oof.groups is None else oof.groups[~held])
        fold_temperature, fold_point = decision_rules(others, positive=positive, target_sensitivity=target_sensitivity)
        calibrated[held] = apply_temperature(oof.probs[held], fold_temperature)
        predicted[held] = predicted_classes(calibrated[held], positive=positive, threshold=fold_point["threshold"])
        rules.append({"fold": int(fold), "temperature": fold_temperature, "threshold": fold_point["threshold"]})
    decided = Decided(temperature, point, calibrated, predicted, ranked=apply_temperature(oof.probs, temperature))
    report = level_figures(
        oof, decided, class_names=class_names, positive=positive, n_resamples=n_resamples, n_bins=n_bins, seed=seed
    )
    report["cross_fitted"] = {"folds": rules, "figures": "each fold called by rules fitted on the other folds"}
    return report


def calibrated_test(report: dict, test: Predictions) -> Predictions:
    """Test predictions after the temperature stored in a level's report."""
    return Predictions(test.labels, apply_temperature(test.probs, report["temperature"]), test.groups)
