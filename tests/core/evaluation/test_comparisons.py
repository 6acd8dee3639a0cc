import numpy as np
import pytest

from core.evaluation.comparisons import compare_models
from core.evaluation.report import Predictions


def _binary(p1):
    p1 = np.asarray(p1, dtype=float)
    return np.stack([1 - p1, p1], axis=1)


def test_comparison_sentence_says_whether_the_difference_is_real(rng):
    y = np.array([0, 1] * 40)
    good = _binary(np.where(y == 1, 0.9, 0.1) + rng.normal(0, 0.05, 80)).clip(0.01, 0.99)
    bad = _binary(rng.random(80))
    tests = {"custom_cnn": Predictions(y, good), "vgg16": Predictions(y, bad)}
    reports = {name: {"temperature": 1.0, "operating_point": {"threshold": 0.5}} for name in tests}
    [comparison] = compare_models(tests, reports, positive=1, n_resamples=300)
    assert comparison["text"].startswith("custom_cnn vs vgg16: AUC difference +")
    assert "significant (p=0.00)" in comparison["text"] and comparison["auc"]["p_value"] < 0.05
    twins = {"a": Predictions(y, good), "b": Predictions(y, good)}
    [same] = compare_models(twins, {"a": reports["vgg16"], "b": reports["vgg16"]}, positive=1, n_resamples=100)
    assert "AUC difference +0.000 not significant (p=1.00)" in same["text"]


def test_versus_says_whether_a_model_significantly_beats_the_baseline(rng):
    from core.evaluation.comparisons import versus

    y = np.array([0, 1] * 40)
    good = _binary(np.where(y == 1, 0.9, 0.1) + rng.normal(0, 0.05, 80)).clip(0.01, 0.99)
    chance = _binary(rng.random(80))
    tests = {"baseline": Predictions(y, chance), "custom_cnn": Predictions(y, good), "vgg16": Predictions(y, chance)}
    reports = {name: {"temperature": 1.0, "operating_point": {"threshold": 0.5}} for name in tests}
    comparisons = compare_models(tests, reports, positive=1, n_resamples=200)
    cnn = versus(comparisons, "custom_cnn", "baseline")
    assert cnn["significantly_better"] and not cnn["significantly_worse"] and cnn["auc_difference"] > 0.3
    assert cnn["text"].startswith("custom_cnn is significantly better than baseline (AUROC difference +")
    assert cnn["ci"][0] > 0  # the interval is turned round with the difference
    twin = versus(comparisons, "vgg16", "baseline")
    assert not twin["significantly_better"] and twin["auc_difference"] == 0
    assert twin["text"] == "vgg16 is not significantly better than baseline (AUROC difference +0.000, p=1.00)"
    worse = versus(comparisons, "baseline", "custom_cnn")
    assert worse["significantly_worse"] and worse["auc_difference"] == pytest.approx(-cnn["auc_difference"])
    assert versus(comparisons, "baseline", "baseline") is None and versus(comparisons, "resnet50", "baseline") is None


def test_versus_says_so_when_the_bootstrap_gives_no_p_value():
    from core.evaluation.comparisons import versus

    auc = {"difference": 0.05, "ci": [None, None], "p_value": None}
    entry = {"a": "custom_cnn", "b": "baseline", "auc": auc, "mcnemar": {"p_value": None}}
    cnn = versus([entry], "custom_cnn", "baseline")
    assert not cnn["significantly_better"]
    assert cnn["text"].endswith("not significantly better than baseline (AUROC difference +0.050, p not measurable)")
