import numpy as np
import pandas as pd

from app_train_dashboard import tables
from core.store.runs import load_run, run_choices


def test_comparison_table_rows_and_best_cells(dashboard_root, run_ids):
    run = load_run(dashboard_root, run_ids["sound"])
    table = tables.comparison_table([(name, model) for name, model in run.models.items()])
    assert list(table["model"]) == list(run.models)
    level = run.models["custom_cnn"].headline
    row = table.set_index("model").loc["custom_cnn"]
    assert row["auc"] == level["auc"] and row["sensitivity"] == level["operating_point"]["sensitivity"]
    assert row["auc_95ci"] == f"{level['auc_ci'][0]:.3f}–{level['auc_ci'][1]:.3f}"
    assert row["params"] == run.models["custom_cnn"].summary["params"] and row["latency_ms"] > 0
    best = tables.best_cells(table)
    assert best["params"] == [int(np.argmin(table["params"]))]
    assert set(best) >= {"accuracy", "auc", "ece", "params"}


def test_best_cells_prefers_low_values_where_lower_is_better():
    table = pd.DataFrame({"model": ["a", "b"], "accuracy": [0.9, 0.8], "ece": [0.05, 0.02], "latency_ms": [3.0, 3.0]})
    assert tables.best_cells(table) == {"accuracy": [0], "ece": [1], "latency_ms": [0, 1]}


def test_classification_report_table(dashboard_root, run_ids):
    model = load_run(dashboard_root, run_ids["image"]).models["custom_cnn"]
    table = tables.classification_report_table(model.headline["classification_report"])
    assert list(table.columns) == ["class", "precision", "recall", "f1-score", "support"]
    assert {"high_frequency_loss", "noise_notch", "normal", "macro avg"} <= set(table["class"])
    per_class = table[table["class"].isin(["high_frequency_loss", "noise_notch", "normal"])]
    assert per_class["support"].sum() == model.headline["n"]


def test_worst_errors_are_wrong_sorted_and_filterable(dashboard_root, run_ids):
    run = load_run(dashboard_root, run_ids["image"])
    errors = tables.worst_errors(run, run.models["custom_cnn"])
    assert (errors["true"] != errors["predicted"]).all()
    assert list(errors["loss"]) == sorted(errors["loss"], reverse=True)
    if len(errors):
        one = errors.iloc[0]["true"]
        assert set(tables.worst_errors(run, run.models["custom_cnn"], true=one)["true"]) == {one}


def test_dataset_tables(dashboard_root, run_ids):
    run = load_run(dashboard_root, run_ids["image"])
    counts = tables.group_counts(run.split)
    assert list(counts["split"]) == ["train", "val", "test"] and counts["files"].sum() == len(run.split)
    audit = {
        "unreadable": [{"path": "a.png", "reason": "not a readable image"}],
        "duplicates": [{"sha256": "x", "paths": ["b.png", "c.png"], "labels": ["n", "s"]}],
        "conflicts": [{"sha256": "x"}],
    }
    findings = tables.audit_findings(audit)
    assert list(findings["finding"]) == ["unreadable", "label conflict (dropped)"]


def test_damaged_runs_are_listed_with_a_warning(dashboard_root):
    choices = {c["run_id"]: c for c in run_choices(dashboard_root)}
    damaged = choices["20990101-000000-killed-run-0000"]
    assert damaged["usable"] is False and "run is running" in damaged["warning"]
    assert sum(c["usable"] for c in choices.values()) == 2
    assert list(choices)[0] == "20990101-000000-killed-run-0000"  # newest first


def test_comparison_export_names_run_and_dataset_and_gives_interval_ends_as_numbers(dashboard_root, run_ids):
    run = load_run(dashboard_root, run_ids["sound"])
    exported = tables.comparison_export([(run, model) for model in run.models.values()])
    shown = tables.comparison_table([(name, model) for name, model in run.models.items()])
    level = run.models["custom_cnn"].headline
    row = exported.set_index("model").loc["custom_cnn"]
    assert (row["run"], row["dataset"], row["modality"]) == (run.run_id, run.status["dataset"], "sound")
    assert (row["auc_low"], row["auc"], row["auc_high"]) == (level["auc_ci"][0], level["auc"], level["auc_ci"][1])
    assert exported["accuracy_low"].dtype.kind == exported["auc_high"].dtype.kind == "f"
    assert not {"accuracy_95ci", "auc_95ci"} & set(exported.columns)
    same = [c for c in shown.columns if c in exported.columns]
    pd.testing.assert_frame_equal(exported[same].reset_index(drop=True), shown[same].assign(model=exported["model"]))


def test_monitoring_table_puts_counts_beside_each_rate():
    summary = pd.DataFrame(
        {
            "run_id": ["20260301-080000-heart", "20260220-090000-heart"],
            "model": ["custom_cnn", "vgg16"],
            "predictions": [6, 3],
            "referred": [1, 0],
            "out_of_distribution": [1, 0],
            "reviewed": [5, 0],
            "overridden": [2, 0],
            "judged": [4, 0],
            "agreed": [2, 0],
            "agreement": [0.5, float("nan")],
            "agreement_low": [0.15, float("nan")],
            "agreement_high": [0.85, float("nan")],
        }
    )
    table = tables.monitoring_table(summary)
    assert list(table.columns) == list(tables.MONITOR_COLUMNS)
    assert table.iloc[0].tolist() == [
        "custom_cnn",
        "20260301-080000-heart",
        6,
        "16.7% (1 of 6)",
        "16.7% (1 of 6)",
        5,
        "40.0% (2 of 5)",
        "50.0% (15.0%–85.0%), 2 of 4",
    ]
    assert table.iloc[1, -2:].tolist() == ["—", "—"]  # nothing reviewed: no rate rather than 0%
    assert tables.served_label("20260301-080000-heart", "vgg16") == "vgg16 @ 20260301-080000"
