import numpy as np
import pytest
from scipy.stats import binomtest

from core.evaluation.decision import apply_temperature, predicted_classes
from core.evaluation.metrics import (
    bootstrap_ci,
    expected_calibration_error,
    fit_temperature,
    mcnemar_test,
    paired_auc_bootstrap,
    reliability_bins,
    roc_auc,
    threshold_for_sensitivity,
)
from core.evaluation.report import Predictions, evaluate_level


def _binary(p1):
    p1 = np.asarray(p1, dtype=float)
    return np.stack([1 - p1, p1], axis=1)


def test_report_on_a_hand_checkable_binary_case():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    probs = _binary([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    report = evaluate_level(
        Predictions(y, probs), Predictions(y, probs), class_names=["normal", "sick"], positive=1, n_resamples=200
    )
    assert report["n"] == 8
    assert report["auc"] == pytest.approx(15 / 16)  # one discordant pair: (0.6 neg, 0.4 pos)
    cm = np.array(report["confusion_matrix"])
    point = report["operating_point"]
    assert cm.sum() == 8 and point["method"] == "youden"
    assert point["sensitivity"] == pytest.approx(cm[1, 1] / cm[1].sum())
    assert point["specificity"] == pytest.approx(cm[0, 0] / cm[0].sum())
    cr = report["classification_report"]
    assert cr["sick"]["support"] == 4 and cr["sick"]["recall"] == pytest.approx(point["sensitivity"])
    assert report["f1"] == cr["sick"]["f1-score"]
    assert point["review_band"][0] < point["threshold"] < point["review_band"][1]
    low, high = report["auc_ci"]
    assert low <= report["auc"] <= high
    assert set(report["roc"]) == {"sick"} and report["roc"]["sick"]["fpr"][0] == 0.0
    assert 0 < report["pr"]["sick"]["average_precision"] <= 1
    assert report["bootstrap"] == {"resamples": 200, "level": 0.95, "by_group": False}


def test_multiclass_report_has_one_vs_rest_curves_and_no_threshold(rng):
    y = np.repeat([0, 1, 2], 20)
    probs = np.full((60, 3), 0.2)
    probs[np.arange(60), y] = 0.6
    report = evaluate_level(
        Predictions(y, probs), Predictions(y, probs), class_names=["a", "b", "c"], positive=None, n_resamples=100
    )
    assert report["accuracy"] == 1.0 and report["auc"] == pytest.approx(1.0)
    assert set(report["roc"]) == {"a", "b", "c"} and set(report["pr"]) == {"a", "b", "c"}
    assert report["operating_point"]["threshold"] is None
    assert report["operating_point"]["band_applies_to"] == "top_probability"


def test_temperature_scaling_fixes_overconfidence_and_lowers_ece(rng):
    y = rng.integers(0, 2, 2000)
    true_p = np.where(y == 1, 0.7, 0.3)  # the right class at 70%
    overconfident = _binary(np.where(true_p > 0.5, 0.98, 0.02))
    noisy = np.where(rng.random(2000) < 0.3, 1 - y, y)  # 30% of the labels disagree
    temperature = fit_temperature(noisy, overconfident)
    assert temperature > 2
    given = Predictions(noisy, overconfident)
    report = evaluate_level(given, given, class_names=["n", "p"], positive=1, n_resamples=50)
    assert report["calibration"]["after"]["ece"] < report["calibration"]["before"]["ece"] / 3
    assert report["calibration"]["after"]["brier"] < report["calibration"]["before"]["brier"]
    assert report["temperature"] == pytest.approx(temperature)


def test_a_perfectly_separated_validation_set_is_not_sharpened_into_certainty():
    y = np.array([0, 0, 0, 1, 1, 1])
    probs = _binary([0.1, 0.05, 0.2, 0.9, 0.95, 0.8])  # every item right: the log loss falls towards T = 0
    assert fit_temperature(y, probs) == 1.0
    underconfident = _binary(np.where(np.arange(400) % 5 == 0, 0.4, 0.6))  # right 80% of the time at 60%
    assert fit_temperature(np.ones(400, dtype=int), underconfident) < 1  # a real minimum below 1 is kept


def test_reliability_bins_by_hand():
    y = np.array([0, 1, 1, 1])
    probs = _binary([0.05, 0.15, 0.95, 0.91])
    bins = reliability_bins(y, probs, n_bins=10, positive=1)
    assert bins["count"][0] == 1 and bins["count"][1] == 1 and bins["count"][9] == 2
    assert bins["observed"][0] == 0.0 and bins["observed"][1] == 1.0 and bins["predicted"][9] == pytest.approx(0.93)
    assert bins["predicted"][5] is None
    ece = expected_calibration_error(bins)
    assert ece == pytest.approx((0.05 + 0.85 + 2 * 0.07) / 4)


def test_bootstrap_resamples_whole_groups():
    y = np.array([0, 1] * 10)
    probs = _binary(np.where(y == 1, 0.8, 0.2))
    low, high = bootstrap_ci(y, probs, lambda a, p: float(len(a)), groups=np.repeat(np.arange(5), 4), n_resamples=50)
    assert low == high == 20.0  # five groups of four: every resample has 20 items
    free_low, free_high = bootstrap_ci(y, probs, lambda a, p: roc_auc(a, p), n_resamples=50)
    assert free_low == free_high == 1.0


def test_mcnemar_and_paired_auc():
    a = np.array([True] * 8 + [False] * 2 + [True] * 10)
    b = np.array([False] * 8 + [True] * 2 + [True] * 10)
    result = mcnemar_test(a, b)
    assert (result["only_a_correct"], result["only_b_correct"]) == (8, 2)
    assert result["p_value"] == pytest.approx(binomtest(8, 10, 0.5).pvalue)
    y = np.array([0, 1] * 15)
    probs = _binary(np.linspace(0.2, 0.8, 30))
    same = paired_auc_bootstrap(y, probs, probs, n_resamples=100)
    assert same["difference"] == 0 and same["p_value"] == 1.0


def test_threshold_for_target_sensitivity_and_decisions():
    y = np.array([0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.5, 0.3, 0.6, 0.7, 0.9])
    threshold = threshold_for_sensitivity(y, scores, target=0.75)
    assert threshold == pytest.approx(0.6)
    assert threshold_for_sensitivity(y, scores, target=1.0) == pytest.approx(0.3)
    probs = _binary([0.2, 0.45, 0.55])
    assert predicted_classes(probs, positive=1, threshold=0.4).tolist() == [0, 1, 1]
    assert predicted_classes(probs, positive=0, threshold=0.6).tolist() == [0, 1, 1]
    np.testing.assert_allclose(apply_temperature(probs, 1.0), probs)
