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
