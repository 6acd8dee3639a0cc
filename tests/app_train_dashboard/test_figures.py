import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from app_train_dashboard import figures
from app_train_dashboard.data import learning_history, selected
from core.store.runs import load_run


def test_learning_curves_have_one_trace_per_model_and_split_and_mark_kept_epochs(dashboard_root, run_ids):
    entries = selected(dashboard_root, run_ids["image"], ["custom_cnn", "mobilenet_v2"])
    history, best = learning_history(dashboard_root, entries)
    fig = figures.fig_learning_curves(history, metric="loss", best_epochs=best)
    names = [trace.name for trace in fig.data]
    assert names == [
        "custom_cnn · train",
        "custom_cnn · validation",
        "mobilenet_v2 · train",
        "mobilenet_v2 · validation",
    ]
    run = load_run(dashboard_root, run_ids["image"])
    expected = run.models["custom_cnn"].history["val_loss"].to_numpy()
    np.testing.assert_allclose(fig.data[1].y, expected, rtol=1e-6)
    kept = best["custom_cnn"]
    assert list(fig.data[1].marker.symbol).index("star") == kept - 1
    assert fig.layout.yaxis.title.text == "loss" and fig.layout.xaxis.title.text == "epoch"
    assert figures.fig_learning_curves(history, metric="accuracy", log_y=True).layout.yaxis.type == "log"
    with pytest.raises(ValueError):
        figures.fig_learning_curves(history, metric="auc")


def test_learning_rate_drops_are_marked():
    history = pd.DataFrame(
        {
            "label": "m",
            "epoch": [1, 2, 3],
            "learning_rate": [1e-3, 1e-3, 5e-4],
            "accuracy": [0.5, 0.6, 0.7],
            "val_accuracy": [0.5, 0.55, 0.6],
        }
    )
    fig = figures.fig_learning_curves(history, best_epochs={"m": 2})
    assert list(fig.data[1].marker.symbol) == ["circle", "star", "triangle-down"]


def test_confusion_matrix_is_labelled_true_and_predicted():
    fig = figures.fig_confusion_matrix([[8, 2], [1, 9]], ["normal", "murmur"])
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    assert list(fig.data[0].x) == ["normal", "murmur"] and fig.data[0].text[0][1] == "2"
    normalised = figures.fig_confusion_matrix([[8, 2], [1, 9]], ["normal", "murmur"], normalize=True)
    np.testing.assert_allclose(normalised.data[0].z, [[0.8, 0.2], [0.1, 0.9]])
    assert normalised.data[0].text[0][0] == "80%"


def test_roc_pr_and_reliability_carry_their_figures_in_the_legend(dashboard_root, run_ids):
    model = load_run(dashboard_root, run_ids["sound"]).models["custom_cnn"]
    level = model.headline
    roc = figures.fig_roc({"custom_cnn": level["roc"]["murmur"]})
    assert roc.data[1].name == f"custom_cnn (AUC {level['roc']['murmur']['auc']:.3f})"
    pr = figures.fig_precision_recall({"custom_cnn": level["pr"]["murmur"]})
    assert pr.data[0].name.startswith("custom_cnn (AP ")
    reliability = figures.fig_reliability(level["calibration"], title="t")
    assert [t.name.split(" (")[0] for t in reliability.data] == ["perfect", "before scaling", "after scaling"]
    assert f"ECE {level['calibration']['after']['ece']:.3f}" in reliability.data[2].name


def test_class_balance_and_threshold_curve(dashboard_root, run_ids):
    run = load_run(dashboard_root, run_ids["image"])
    fig = figures.fig_class_balance(run.split)
    assert len(fig.data) == 3 and list(fig.data[0].x) == ["train", "val", "test"]
    assert sum(sum(t.y) for t in fig.data) == len(run.split)
    stats = pd.DataFrame({"threshold": [1, 0.5, 0], "sensitivity": [0, 0.5, 1], "specificity": [1, 0.5, 0]})
    curve = figures.fig_threshold_curve(stats, threshold=0.4, band=(0.3, 0.5))
    assert [t.name for t in curve.data] == ["sensitivity", "specificity"]
    assert figures.empty_figure("nothing").layout.annotations[0].text == "nothing"


ROUNDED = re.compile(r"%\{[xy]:[,.\d]*[df%]\}")  # %{y:.3f}, %{y:,d}: a tooltip never shows 0.34999999506582447
RAW = re.compile(r"%\{[xy]\}")


def _hovers(fig) -> list[str]:
    return [t.hovertemplate for t in fig.data if t.hoverinfo != "skip"]


def test_every_chart_rounds_the_numbers_of_its_tooltips(dashboard_root, run_ids):
    level = load_run(dashboard_root, run_ids["sound"]).models["custom_cnn"].headline
    stats = pd.DataFrame(
        {"threshold": [1, 0.34999999506582447, 0], "sensitivity": [0, 0.5, 1], "specificity": [1, 0.5, 0]}
    )
    charts = [
        figures.fig_roc({"custom_cnn": level["roc"]["murmur"]}),
        figures.fig_precision_recall({"custom_cnn": level["pr"]["murmur"]}),
        figures.fig_reliability(level["calibration"], title="t"),
        figures.fig_threshold_curve(stats, threshold=0.4, band=(0.3, 0.5)),
        figures.fig_monitoring(TIMELINE, period="day", zone="UTC"),
    ]
    for chart in charts:
        hovers = _hovers(chart)
        assert hovers and all(h and ROUNDED.search(h) and not RAW.search(h) for h in hovers), hovers
    assert "threshold %{x:.3f}" in charts[3].data[0].hovertemplate


TIMELINE = pd.DataFrame(
    {
        "label": ["a", "a", "b"],
        "period": [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 2)],
        "predictions": [4, 2, 1],
        "referred": [1, 0, 0],
        "out_of_distribution": [1, 0, 0],
        "reviewed": [4, 1, 1],
        "overridden": [1, 1, 0],
        "judged": [3, 0, 1],
        "agreed": [2, 0, 1],
        "referral_rate": [0.25, 0.0, 0.0],
        "ood_rate": [0.25, 0.0, 0.0],
        "override_rate": [0.25, 1.0, 0.0],
        "agreement": [2 / 3, float("nan"), 1.0],
        "agreement_low": [0.2077, float("nan"), 0.2065],
        "agreement_high": [0.9385, float("nan"), 1.0],
    }
)


def test_monitoring_figure_has_a_panel_per_figure_and_the_agreement_interval_as_error_bars():
    fig = figures.fig_monitoring(TIMELINE, period="day", zone="UTC")
    assert len(fig.data) == 2 * 5  # per model: volume, referral, out of distribution, override, agreement
    volume = [t for t in fig.data if t.type == "bar"]
    assert [(t.name, list(t.y)) for t in volume] == [("a", [4, 2]), ("b", [1])]
    agreement = [t for t in fig.data if t.yaxis == "y5"]
    first = agreement[0]
    np.testing.assert_allclose(first.error_y.array, [0.9385 - 2 / 3, np.nan], equal_nan=True)
    np.testing.assert_allclose(first.error_y.arrayminus, [2 / 3 - 0.2077, np.nan], equal_nan=True)
    assert "95% CI %{customdata[2]:.1%}" in first.hovertemplate
    assert [a.text for a in fig.layout.annotations][0] == "Predictions per day (days in UTC)"
    assert fig.layout.yaxis5.tickformat == ".0%"
    assert (fig.layout.xaxis5.tickformat, fig.layout.xaxis5.dtick) == ("%Y-%m-%d", 86_400_000)  # a tick a day
    weekly = figures.fig_monitoring(TIMELINE, period="week", zone="UTC")
    assert "week of %{x|%Y-%m-%d}" in weekly.data[0].hovertemplate
