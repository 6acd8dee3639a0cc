"""Callbacks called as Dash would call them, over real artifacts."""

import json
import pytest
from dash.exceptions import PreventUpdate

from app_train_dashboard import ids
from app_train_dashboard.app import create_app
from core.store import artifacts
from core.settings import Settings
from tests.support.callbacks import call, callback_functions


@pytest.fixture(scope="module")
def callbacks(dashboard_root):
    return callback_functions(create_app(Settings(artifacts_dir=dashboard_root)))


_call = call


def test_run_list_is_newest_first_and_warns_about_damaged_runs(callbacks, run_ids):
    options, value, compare, alerts, empty, style, badge = callbacks["refresh_runs"](None, None, None)
    assert options[0]["disabled"] and options[0]["label"].startswith("⚠ killed")
    assert value == max(run_ids.values()) and empty is None and style == {}
    assert "skipped in the figures" in alerts[0].children
    assert len(compare) == 2 and badge.startswith("Champion: ")


def test_empty_artifacts_show_the_command_that_creates_runs(tmp_path):
    refresh = callback_functions(create_app(Settings(artifacts_dir=tmp_path)))["refresh_runs"]
    options, value, _, _, empty, style, _ = refresh(None, None, None)
    assert options == [] and value is None and style == {"display": "none"}
    assert "make run" in json.dumps(empty.to_plotly_json(), default=str)


def test_learning_curves_and_comparison(callbacks, run_ids):
    run = run_ids["sound"]
    models = ["custom_cnn", "mobilenet_v2"]
    figure = callbacks["learning_curves"](run, models, None, "accuracy", [])
    assert len(figure.data) == 4
    compared = callbacks["learning_curves"](run, ["custom_cnn"], run_ids["image"], "loss", ["log"])
    assert len(compared.data) == 4 and "@" in compared.data[2].name  # same model, second run
    rows, columns, styles, sentences, promotable = callbacks["comparison"](run, models, None)
    assert [r["model"] for r in rows] == models and {c["id"] for c in columns} >= {"auc", "auc_95ci", "latency_ms"}
    assert styles and all(s["backgroundColor"] == "#d3f9d8" for s in styles)
    assert sentences[0].children.startswith("custom_cnn vs mobilenet_v2: ")
    assert [p["value"] for p in promotable] == models
    with pytest.raises(PreventUpdate):
        callbacks["list_models"](None)


def test_threshold_explorer_numbers_follow_the_threshold(callbacks, run_ids):
    run = run_ids["sound"]
    args = (run, ["custom_cnn"], None)
    low = callbacks["explore_threshold"]("custom_cnn", 0.05, [0.3, 0.6], None, *args)
    high = callbacks["explore_threshold"]("custom_cnn", 0.95, [0.3, 0.6], 0.2, *args)
    low_text, high_text = json.dumps(low[0].to_plotly_json(), default=str), json.dumps(high[0].to_plotly_json(), default=str)
    assert low_text != high_text and "prevalence 0.200" in high_text
    matrix_low, matrix_high = low[1].data[0].z, high[1].data[0].z
    assert sum(map(sum, matrix_low)) == sum(map(sum, matrix_high))
    assert matrix_low[0][1] >= matrix_high[0][1]  # fewer false positives at a higher threshold
    threshold, _ = _call(callbacks["set_threshold"], "custom_cnn", 1, "sensitivity", 1.0, *args, triggered=ids.OP_TARGET_BUTTON)
    assert 0 <= threshold <= 1
    multiclass = callbacks["explore_threshold"]("custom_cnn", 0.5, [0.3, 0.6], None, run_ids["image"], ["custom_cnn"], None)
    assert "two-class" in json.dumps(multiclass[0].to_plotly_json(), default=str)


def test_saving_the_operating_point_writes_it_through_core(callbacks, run_ids, dashboard_root):
    run = run_ids["sound"]
    result = callbacks["save_point"](1, "custom_cnn", 0.42, [0.3, 0.55], run, ["custom_cnn"], None)
    assert result.color == "success"
    saved = artifacts.read_json(artifacts.runs_dir(dashboard_root) / run / "models" / "custom_cnn" / "operating_point.json")
    assert saved["threshold"] == 0.42 and saved["review_band"] == [0.3, 0.55]


def test_promotion_needs_confirmation(callbacks, run_ids, dashboard_root):
    run = run_ids["image"]
    opened, text, _ = _call(callbacks["promote_model"], 1, None, None, "mobilenet_v2", run, triggered=ids.PROMOTE_BUTTON)
    assert opened is True and "mobilenet_v2" in text
    assert not (dashboard_root / "registry.json").exists()
    closed, _, result = _call(callbacks["promote_model"], 1, 1, None, "mobilenet_v2", run, triggered=ids.PROMOTE_CONFIRM)
    assert closed is False and result.color == "success"
    assert artifacts.read_json(dashboard_root / "registry.json")["champion"]["model"] == "mobilenet_v2"


def test_errors_gallery_dataset_panel_and_exports(callbacks, run_ids):
    run = run_ids["sound"]
    true_options, _, cards = callbacks["errors_gallery"]("custom_cnn", None, None, run, ["custom_cnn"], None)
    assert true_options == ["murmur", "normal"] and cards
    summary, balance, groups, audit = callbacks["dataset"](run)
    assert "24 files" in summary.children and len(balance.data) == 2 and len(groups) == 3
    download = _call(callbacks["export_csv"], None, 1, run, ["custom_cnn"], None, triggered=ids.EXPORT_METRICS_BUTTON)
    assert download["filename"] == "training_metrics.csv" and "run_id,model,epoch" in download["content"]
    table = _call(callbacks["export_csv"], 1, None, run, ["custom_cnn"], None, triggered=ids.EXPORT_COMPARISON_BUTTON)
    assert table["filename"] == f"comparison_{run}.csv" and table["content"].startswith("model,accuracy")
