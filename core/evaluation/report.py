"""The evaluation report of one model at one level: every test figure, calibrated on validation.

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
    sensitivity_specificity,
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
    temperature = fit_temperature(val.labels, val.probs)
    calibrated_val = Predictions(val.labels, apply_temperature(val.probs, temperature), val.groups)
    calibrated = apply_temperature(test.probs, temperature)
    point = operating_point(calibrated_val, positive=positive, target_sensitivity=target_sensitivity)
    predicted = predicted_classes(calibrated, positive=positive, threshold=point["threshold"])
    labels = np.arange(len(class_names))
    auc_positive = positive if positive is not None else 1

    report = {
        "n": int(len(test.labels)),
        "class_names": list(class_names),
        "temperature": temperature,
        "accuracy": accuracy(test.labels, calibrated),
        "accuracy_ci": bootstrap_ci(
            test.labels, calibrated, accuracy, groups=test.groups, n_resamples=n_resamples, seed=seed
        ),
        "balanced_accuracy": balanced_accuracy(test.labels, predicted, n_classes=len(class_names)),
        "sensitivity_at_90_specificity": None,
        "loss": log_loss_of(test.labels, test.probs),
        "loss_calibrated": log_loss_of(test.labels, calibrated),
        "auc": roc_auc(test.labels, calibrated, positive=auc_positive),
        "auc_ci": bootstrap_ci(
            test.labels,
            calibrated,
            lambda y, p: roc_auc(y, p, positive=auc_positive),
            groups=test.groups,
            n_resamples=n_resamples,
            seed=seed,
        ),
        "bootstrap": {"resamples": n_resamples, "level": 0.95, "by_group": test.groups is not None},
        "classification_report": classification_report(
            test.labels, predicted, labels=labels, target_names=list(class_names), output_dict=True, zero_division=0
        ),
        "confusion_matrix": confusion_matrix(test.labels, predicted, labels=labels).tolist(),
        "operating_point": point,
        "calibration": {
            "before": _calibration(test, test.probs, positive, n_bins),
            "after": _calibration(test, calibrated, positive, n_bins),
        },
    }
    report["roc"], report["pr"] = _curves(Predictions(test.labels, calibrated), class_names, positive)
    if positive is not None:
        _add_positive_class_figures(report, test.labels, calibrated[:, positive], positive, class_names[positive])
    else:
        report["f1"] = report["classification_report"]["macro avg"]["f1-score"]
    return report


def _add_positive_class_figures(report: dict, labels: np.ndarray, scores: np.ndarray, positive: int, name: str) -> None:
    """Two classes: sensitivity and specificity at the threshold, sensitivity at 90% specificity, the positive F1."""
    point = report["operating_point"]
    sensitivity, specificity = sensitivity_specificity(labels, scores, threshold=point["threshold"], positive=positive)
    point.update(sensitivity=sensitivity, specificity=specificity)
    report["sensitivity_at_90_specificity"] = sensitivity_at_specificity(
        labels, scores, specificity=REPORTED_SPECIFICITY, positive=positive
    )
    report["f1"] = report["classification_report"][name]["f1-score"]


def calibrated_test(report: dict, test: Predictions) -> Predictions:
    """Test predictions after the temperature stored in a level's report."""
    return Predictions(test.labels, apply_temperature(test.probs, report["temperature"]), test.groups)
