"""Headline classification metrics: pure functions over labels and probabilities.

Thin, checked wrappers over scikit-learn, with the medical conventions the
project needs: a positive class, a validation-chosen threshold, and
sensitivity/specificity at that threshold.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from core.evaluation.decision import apply_temperature


def _check(y_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, probs = np.asarray(y_true), np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(y_true) != len(probs):
        raise ValueError(
            f"expected y_true of shape (n,) and probs of shape (n, n_classes), got {y_true.shape} and {probs.shape}"
        )
    return y_true, probs


def accuracy(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Share of items whose most probable class is the true class."""
    y_true, probs = _check(y_true, probs)
    return float(accuracy_score(y_true, probs.argmax(axis=1)))


def roc_auc(y_true: np.ndarray, probs: np.ndarray, *, positive: int = 1) -> float | None:
    """AUROC: of the positive class for two classes, one-vs-rest macro for more.

    Returns None when it is undefined (a class absent from `y_true`).
    """
    y_true, probs = _check(y_true, probs)
    n_classes = probs.shape[1]
    present = np.unique(y_true)
    try:
        if n_classes == 2:
            if len(present) < 2:
                return None
            return float(roc_auc_score(y_true == positive, probs[:, positive]))
        if len(present) < n_classes:
            return None
        return float(roc_auc_score(y_true, probs, multi_class="ovr", labels=np.arange(n_classes)))
    except ValueError:
        return None


def balanced_accuracy(y_true: np.ndarray, predicted: np.ndarray, *, n_classes: int) -> float:
    """Mean recall over the classes present: for two classes, (sensitivity + specificity) / 2.

    Unlike accuracy it is not flattered by the majority class: calling every
    item the common class scores 1 / n_classes, whatever the mix.

    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0], n_classes=2)
    0.5
    """
    y_true, predicted = np.asarray(y_true), np.asarray(predicted)
    if not len(y_true):
        raise ValueError("balanced accuracy needs at least one item")
    if predicted.max(initial=0) >= n_classes or y_true.max(initial=0) >= n_classes:
        raise ValueError(f"class indices must be below n_classes={n_classes}")
    return float(balanced_accuracy_score(y_true, predicted))


def sensitivity_at_specificity(
    y_true: np.ndarray, scores: np.ndarray, *, specificity: float = 0.9, positive: int = 1
) -> float | None:
    """The highest sensitivity any threshold reaches while keeping at least `specificity`: a point of the ROC curve.

    Like AUROC it reads the whole curve of the data given, so on test data it
    describes the ranking, not an operating point chosen in advance. None
    when either class is absent.

    >>> sensitivity_at_specificity([0] * 10 + [1] * 4, [i / 10 for i in range(10)] + [0.95, 0.85, 0.3, 0.1])
    0.5
    """
    if not 0 < specificity <= 1:
        raise ValueError(f"specificity must be in (0, 1], got {specificity!r}")
    positives = np.asarray(y_true) == positive
    if positives.all() or not positives.any():
        return None
    fpr, tpr, _ = roc_curve(positives, np.asarray(scores, dtype=np.float64))
    return float(tpr[fpr <= 1 - specificity + 1e-12].max())


def youden_threshold(y_true: np.ndarray, scores: np.ndarray, *, positive: int = 1) -> float:
    """The threshold on `scores` that maximises sensitivity + specificity - 1.

    Choose it on validation data; applying it to test data is then honest.
    """
    positives = np.asarray(y_true) == positive
    if positives.all() or not positives.any():
        return 0.5
    fpr, tpr, thresholds = roc_curve(positives, scores, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))
    if best + 1 < len(thresholds):
        # Every threshold in (thresholds[best + 1], thresholds[best]] gives the same
        # calls on this data; the midpoint leaves the most room for unseen cases.
        return float(min(1.0, (thresholds[best] + thresholds[best + 1]) / 2))
    return float(min(1.0, thresholds[best]))


def sensitivity_specificity(
    y_true: np.ndarray, scores: np.ndarray, *, threshold: float, positive: int = 1
) -> tuple[float | None, float | None]:
    """Sensitivity and specificity when `scores >= threshold` is called positive.

    Either is None when its denominator is zero.
    """
    actual = np.asarray(y_true) == positive
    called = np.asarray(scores) >= threshold
    tn, fp, fn, tp = confusion_matrix(actual, called, labels=[False, True]).ravel()
    sensitivity = tp / (tp + fn) if tp + fn else None
    specificity = tn / (tn + fp) if tn + fp else None
    return (
        None if sensitivity is None else float(sensitivity),
        None if specificity is None else float(specificity),
    )


def _rounded(threshold: float, decimals: int | None, *, down: bool) -> float:
    """`threshold` to `decimals` places, rounded in the direction that keeps its target met (None: exact)."""
    if decimals is None:
        return threshold
    scale = 10.0**decimals
    return float((np.floor if down else np.ceil)(threshold * scale) / scale)


def threshold_for_sensitivity(
    y_true: np.ndarray, scores: np.ndarray, *, target: float, positive: int = 1, decimals: int | None = None
) -> float:
    """The highest threshold whose sensitivity reaches `target` (so specificity is as high as it can be).

    With `decimals`, the threshold is rounded down: rounding to the nearest
    could lift it above the scores of the positives that reach the target.

    >>> threshold_for_sensitivity([0, 1, 1], [0.1, 0.4567, 0.9], target=1.0, decimals=2)
    0.45
    """
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target!r}")
    positives = np.asarray(y_true) == positive
    if not positives.any():
        return 0.5
    fpr, tpr, thresholds = roc_curve(positives, scores)
    reaching = np.flatnonzero(tpr >= target)
    return _rounded(float(min(1.0, thresholds[reaching[0]])), decimals, down=True)


def threshold_for_specificity(
    y_true: np.ndarray, scores: np.ndarray, *, target: float, positive: int = 1, decimals: int | None = None
) -> float:
    """The lowest threshold whose specificity reaches `target` (so sensitivity is as high as it can be).

    With `decimals`, the threshold is rounded up, for the same reason as in
    `threshold_for_sensitivity`, mirrored: no negative may cross it.

    >>> threshold_for_specificity([0, 1, 0, 1], [0.2, 0.3412, 0.5, 0.9], target=0.5, decimals=2)
    0.35
    """
    if not 0 < target <= 1:
        raise ValueError(f"target specificity must be in (0, 1], got {target!r}")
    positives = np.asarray(y_true) == positive
    if positives.all():
        return 0.5
    fpr, tpr, thresholds = roc_curve(positives, scores)
    allowed = np.flatnonzero(fpr <= 1 - target)
    return _rounded(float(min(1.0, thresholds[allowed[-1]])), decimals, down=False)


def reliability_bins(y_true: np.ndarray, probs: np.ndarray, *, n_bins: int = 10, positive: int | None = None) -> dict:
    """Reliability-diagram bins over equal-width probability intervals.

    With `positive` set, the binned value is that class's probability and the
    observed value is the share of that class (the usual binary diagram);
    otherwise the top probability against the share of correct predictions.

    Returns:
        {"edges", "predicted", "observed", "count"}; empty bins have None.
    """
    y_true, probs = _check(y_true, probs)
    if positive is None:
        confidence, hit = probs.max(axis=1), probs.argmax(axis=1) == y_true
    else:
        confidence, hit = probs[:, positive], y_true == positive
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    predicted, observed, count = [], [], []
    for index in range(n_bins):
        members = which == index
        count.append(int(members.sum()))
        predicted.append(float(confidence[members].mean()) if members.any() else None)
        observed.append(float(hit[members].mean()) if members.any() else None)
    return {"edges": edges.tolist(), "predicted": predicted, "observed": observed, "count": count}


def expected_calibration_error(bins: dict) -> float:
    """Count-weighted mean gap between predicted and observed over `reliability_bins`."""
    total = sum(bins["count"])
    if not total:
        return 0.0
    rows = zip(bins["count"], bins["predicted"], bins["observed"], strict=True)
    return float(sum(n * abs(p - o) for n, p, o in rows if n) / total)


def brier(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Brier score: mean squared distance to the one-hot truth (halved for two classes, as scikit-learn does)."""
    y_true, probs = _check(y_true, probs)
    return float(brier_score_loss(y_true, probs, labels=np.arange(probs.shape[1])))


def log_loss_of(y_true: np.ndarray, probs: np.ndarray) -> float:
    y_true, probs = _check(y_true, probs)
    return float(log_loss(y_true, probs, labels=np.arange(probs.shape[1])))


MIN_TEMPERATURE = 0.2


def fit_temperature(y_true: np.ndarray, probs: np.ndarray) -> float:
    """The temperature in [0.2, 20] that minimises the log loss of `probs` (fit on validation); 1 when none does.

    A perfectly separated (often small) validation set has no minimum: its
    log loss falls all the way to the lower bound, and sharpening by 1/0.2
    turns a 0.99 into a served "100%". Nothing in such a set shows that the
    model is under-confident, so it is left as it is (temperature 1).
    """
    y_true, probs = _check(y_true, probs)
    low, high = np.log(MIN_TEMPERATURE), np.log(20.0)
    result = minimize_scalar(
        lambda log_t: log_loss_of(y_true, apply_temperature(probs, float(np.exp(log_t)))),
        bounds=(low, high),
        method="bounded",
    )
    return 1.0 if result.x - low < 0.01 else float(np.exp(result.x))


def _resample_indices(n: int, groups: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """One bootstrap resample of item indices, drawing whole groups when there are groups."""
    if groups is None:
        return rng.integers(0, n, n)
    unique, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    chosen = rng.integers(0, len(unique), len(unique))
    return np.concatenate([members[g] for g in chosen])


def bootstrap_ci(
    y_true: np.ndarray,
    probs: np.ndarray,
    metric,
    *,
    groups: np.ndarray | None = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of `metric(y_true, probs)`, resampling groups where given.

    Resamples where the metric is undefined (None) are skipped.
    """
    y_true, probs = _check(y_true, probs)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        rows = _resample_indices(len(y_true), groups, rng)
        value = metric(y_true[rows], probs[rows])
        if value is not None:
            values.append(value)
    if not values:
        return None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar_test(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test on paired correctness: a binomial test on the discordant pairs."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p_value = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return {"only_a_correct": only_a, "only_b_correct": only_b, "p_value": p_value}


def paired_auc_bootstrap(
    y_true: np.ndarray,
    probs_a: np.ndarray,
    probs_b: np.ndarray,
    *,
    positive: int = 1,
    groups: np.ndarray | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """AUROC difference (a - b) on the same items, with a paired bootstrap interval and two-sided p-value."""
    y_true = np.asarray(y_true)
    observed_a = roc_auc(y_true, probs_a, positive=positive)
    observed_b = roc_auc(y_true, probs_b, positive=positive)
    if observed_a is None or observed_b is None:
        return {"difference": None, "ci": [None, None], "p_value": None}
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(n_resamples):
        rows = _resample_indices(len(y_true), groups, rng)
        auc_a = roc_auc(y_true[rows], probs_a[rows], positive=positive)
        auc_b = roc_auc(y_true[rows], probs_b[rows], positive=positive)
        if auc_a is not None and auc_b is not None:
            differences.append(auc_a - auc_b)
    differences = np.array(differences)
    p_value = min(1.0, 2 * min((differences <= 0).mean(), (differences >= 0).mean())) if len(differences) else None
    low, high = np.percentile(differences, [2.5, 97.5]) if len(differences) else (None, None)
    return {
        "difference": observed_a - observed_b,
        "ci": [None if low is None else float(low), None if high is None else float(high)],
        "p_value": None if p_value is None else float(p_value),
    }


def operating_stats(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float,
    prevalence: float | None = None,
    band: tuple[float, float] | None = None,
    positive: int = 1,
) -> dict:
    """What a threshold does on labelled data: counts, rates, predictive values, referrals.

    Args:
        prevalence: Share of positives in the population the model will meet;
            PPV and NPV are computed for it (Bayes' rule) rather than for the
            test set's own mix. None uses the test set's share.
        band: Review band on the scores; the share of items inside it is the
            share that would be referred for review.
    """
    actual = np.asarray(y_true) == positive
    scores = np.asarray(scores, dtype=np.float64)
    called = scores >= threshold
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(actual, called, labels=[False, True]).ravel())
    sensitivity, specificity = sensitivity_specificity(y_true, scores, threshold=threshold, positive=positive)
    share = float(actual.mean()) if prevalence is None else float(prevalence)
    stats = {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "sensitivity": sensitivity,
        "specificity": specificity,
        "prevalence": share,
        "ppv": None,
        "npv": None,
        "referred": None,
    }
    if sensitivity is not None and specificity is not None:
        called_positive = sensitivity * share + (1 - specificity) * (1 - share)
        called_negative = (1 - sensitivity) * share + specificity * (1 - share)
        stats["ppv"] = sensitivity * share / called_positive if called_positive else None
        stats["npv"] = specificity * (1 - share) / called_negative if called_negative else None
    if band is not None:
        stats["referred"] = float(np.mean((scores >= band[0]) & (scores <= band[1]))) if len(scores) else 0.0
    return stats


def threshold_sweep(y_true: np.ndarray, scores: np.ndarray, *, positive: int = 1) -> dict[str, list[float]]:
    """Sensitivity and specificity at every distinct score used as the threshold, descending, then at 0.

    Every score is kept (no `drop_intermediate`), so the figures are a step
    function: a threshold between two neighbouring scores gives the figures
    of the higher one (a score counts as positive when it is >= the threshold).
    """
    fpr, tpr, thresholds = roc_curve(np.asarray(y_true) == positive, scores, drop_intermediate=False)
    return {
        "threshold": [*np.minimum(thresholds, 1.0).tolist(), 0.0],
        "sensitivity": [*tpr.tolist(), 1.0],
        "specificity": [*(1 - fpr).tolist(), 0.0],
    }


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (SciPy's); (nan, nan) when there is nothing to count.

    Wilson rather than the normal approximation: it stays inside [0, 1] and
    keeps its coverage at the small counts and extreme rates a week of
    reviews gives.
    """
    if n <= 0:
        return float("nan"), float("nan")
    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)
