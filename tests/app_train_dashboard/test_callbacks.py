"""Callbacks called as Dash would call them, over real artifacts."""

import base64
import io
import json
import shutil
import wave
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from dash import html, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import text

from app_train_dashboard import ids, tables
from app_train_dashboard.components import NO_PREVIEW
from app_train_dashboard.factory import create_app
from core.inputs.previews import PLAYBACK_RATE
from core.settings import Settings
from core.store import artifacts
from core.store.audit_log import AuditLog
from core.store.layout import ArtifactsLayout
from core.store.runs import load_run
from core.store.serving_state import ServingState
from core.web.data_uri import bytes_data_uri, file_data_uri
from tests.app_train_dashboard.conftest import store_recordings_at
from tests.core.store.test_monitoring import FIELDS, clinic
from tests.support.callbacks import call, callback_functions


@pytest.fixture(scope="module")
def callbacks(dashboard_root):
    return callback_functions(create_app(Settings(artifacts_dir=dashboard_root)))


_call = call
TWIN = "20000101-000000-synthetic-heart-sounds-twin"  # older than every fixture run: the selection does not move


def _state(root: Path) -> ServingState:
    return ServingState(AuditLog(Settings(artifacts_dir=root).audit_database_url).engine)


def test_run_list_is_newest_first_and_warns_about_damaged_runs(callbacks, run_ids):
    options, value, alerts, empty, style, badge = callbacks["refresh_runs"](None, None, None, None, None)
    assert options[0]["disabled"] and options[0]["label"].startswith("⚠ killed")
    assert value == max(run_ids.values()) and empty is None and style == {}
    assert "skipped in the figures" in alerts[0].children
    assert badge.startswith("Champion: ")


def test_a_run_is_compared_only_with_other_runs_of_its_modality(callbacks, run_ids, dashboard_root):
    assert callbacks["compare_choices"](run_ids["sound"], None) == []  # the only other usable run holds images
    shutil.copytree(
        ArtifactsLayout(dashboard_root).run(run_ids["sound"]).dir, ArtifactsLayout(dashboard_root).run(TWIN).dir
    )
    try:
        assert [c["value"] for c in callbacks["compare_choices"](run_ids["sound"], None)] == [TWIN]
    finally:
        shutil.rmtree(ArtifactsLayout(dashboard_root).run(TWIN).dir)


def test_a_run_is_compared_only_with_runs_of_the_same_classes(copied_root, run_ids):
    layout = ArtifactsLayout(copied_root)
    others = {"-same": None, "-flipped": "murmur-first", "-renamed": "other-classes"}
    for suffix, change in others.items():
        twin = layout.run(TWIN + suffix)
        shutil.copytree(layout.run(run_ids["sound"]).dir, twin.dir)
        classes = artifacts.read_json(twin.classes)
        if change == "murmur-first":  # the same classes in another order still compare
            classes["class_names"] = classes["class_names"][::-1]
        elif change == "other-classes":
            classes["class_names"] = ["absent", "present"]
            classes["positive_class"] = "present"
        artifacts.write_json(twin.classes, classes)
    compare = callback_functions(create_app(Settings(artifacts_dir=copied_root)))["compare_choices"]
    assert sorted(c["value"] for c in compare(run_ids["sound"], None)) == [TWIN + "-flipped", TWIN + "-same"]


def test_a_refresh_keeps_the_analysts_run_and_model_choices(callbacks, run_ids):
    kept_run = callbacks["refresh_runs"](None, 3, None, None, run_ids["image"])[1]
    assert kept_run is no_update  # re-sending the run would reset every choice below it
    options, kept_model = callbacks["model_options"](
        run_ids["sound"], ["custom_cnn", "mobilenet_v2"], None, "mobilenet_v2"
    )
    assert [o["value"] for o in options] == ["custom_cnn", "mobilenet_v2"] and kept_model is no_update
    _, fallback = callbacks["model_options"](run_ids["sound"], ["custom_cnn"], None, "mobilenet_v2")
    assert fallback == "custom_cnn"  # the chosen model was unticked: the first one offered


def test_empty_artifacts_show_the_command_that_creates_runs(tmp_path):
    refresh = callback_functions(create_app(Settings(artifacts_dir=tmp_path)))["refresh_runs"]
    options, value, _, empty, style, _ = refresh(None, None, None, None, None)
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
    high = callbacks["explore_threshold"]("custom_cnn", 0.95, [0.3, 0.6], "0.2", *args)
    low_text, high_text = (
        json.dumps(low[0].to_plotly_json(), default=str, ensure_ascii=False),
        json.dumps(high[0].to_plotly_json(), default=str, ensure_ascii=False),
    )
    assert low_text != high_text and "prevalence 0.200" in high_text and "test set’s prevalence" in low_text
    assert low[3:] == high[3:] == (False, None)
    matrix_low, matrix_high = low[1].data[0].z, high[1].data[0].z
    assert sum(map(sum, matrix_low)) == sum(map(sum, matrix_high))
    assert matrix_low[0][1] >= matrix_high[0][1]  # fewer false positives at a higher threshold
    threshold, *_ = _call(
        callbacks["set_threshold"], "custom_cnn", 1, "sensitivity", 1.0, None, *args, triggered=ids.OP_TARGET_BUTTON
    )
    assert 0 <= threshold <= 1
    multiclass = callbacks["explore_threshold"](
        "custom_cnn", 0.5, [0.3, 0.6], None, run_ids["image"], ["custom_cnn"], None
    )
    assert "two-class" in json.dumps(multiclass[0].to_plotly_json(), default=str)


@pytest.mark.parametrize("typed", ["1.5", "0", "abc", "-0.1", "nan", "150%"])
def test_a_mistyped_prevalence_is_flagged_beside_the_field_not_replaced_silently(callbacks, run_ids, typed):
    stats, _, _, invalid, error = callbacks["explore_threshold"](
        "custom_cnn", 0.5, [0.3, 0.6], typed, run_ids["sound"], ["custom_cnn"], None
    )
    assert invalid is True and "between 0 and 1" in error and repr(typed) in error
    assert "test set’s prevalence" in json.dumps(stats.to_plotly_json(), default=str, ensure_ascii=False)
    shown = callbacks["explore_threshold"](
        "custom_cnn", 0.5, [0.3, 0.6], " 5% ", run_ids["sound"], ["custom_cnn"], None
    )
    assert "prevalence 0.050" in json.dumps(shown[0].to_plotly_json(), default=str) and shown[3:] == (False, None)


def test_saving_the_operating_point_writes_a_new_version_through_core(callbacks, run_ids, dashboard_root):
    run = run_ids["sound"]
    fitted = {"run_id": run, "model": "custom_cnn", "version": 0}  # the sliders started from the fitted point
    result, _ = callbacks["save_point"](1, "custom_cnn", 0.42, [0.3, 0.55], "pilot", fitted, run, ["custom_cnn"], None)
    assert result.color == "success" and "Saved as version 1" in str(result.children)
    saved = _state(dashboard_root).operating_point(run, "custom_cnn")
    assert (saved["version"], saved["threshold"], saved["review_band"], saved["note"]) == (
        1,
        0.42,
        [0.3, 0.55],
        "pilot",
    )
    set_threshold = callbacks["set_threshold"]
    threshold, band, _ = _call(
        set_threshold, "custom_cnn", None, "sensitivity", 0.9, None, run, ["custom_cnn"], None, triggered=ids.OP_MODEL
    )
    assert (threshold, band) == (0.42, [0.3, 0.55])  # the tab starts from the version in force
    history, _ = callbacks["point_history"]("custom_cnn", None, None, run, ["custom_cnn"], None)
    assert [(h["version"], h["threshold"], h["review band"], h["note"]) for h in history][0] == (
        1,
        "0.420",
        "0.300–0.550",
        "pilot",
    )
    assert history[-1]["version"] == 0 and history[-1]["when (UTC)"] == "at training"


def test_promotion_needs_a_reason_shows_the_guardrails_and_records_an_override(callbacks, run_ids, dashboard_root):
    run, state = run_ids["image"], _state(dashboard_root)
    before = len(state.champion_history())
    weak = ArtifactsLayout(dashboard_root).run(run).model("mobilenet_v2").report
    report = artifacts.read_json(weak)
    report["levels"][report["level"]].update(auc=0.5, auc_ci=[0.5, 0.5])
    artifacts.write_json(weak, report)
    promote = callbacks["promote_model"]
    opened, text, *_ = _call(promote, 1, None, None, None, "mobilenet_v2", run, None, triggered=ids.PROMOTE_BUTTON)
    assert opened is True and "mobilenet_v2" in str(text) and "includes 0.5" in str(text)
    shown = json.dumps([t.to_plotly_json() for t in text], default=str, ensure_ascii=False)
    for fact in ("current champion", "AUROC (95% CI)", "ECE (calibrated)", "test n", "0.500 (0.500–0.500)"):
        assert fact in shown  # the candidate beside the champion
    kept_open, text, *_ = _call(
        promote, 1, 1, None, None, "mobilenet_v2", run, "looks good", triggered=ids.PROMOTE_CONFIRM
    )
    assert kept_open is True and "Promote anyway" in str(text)
    kept_open, text, *_ = _call(promote, 1, 1, 1, None, "mobilenet_v2", run, None, triggered=ids.PROMOTE_FORCE)
    assert kept_open is True and "give a reason" in str(text)
    assert len(state.champion_history()) == before  # nothing promoted yet
    closed, _, result, *_ = _call(promote, 1, 1, 2, None, "mobilenet_v2", run, "pilot", triggered=ids.PROMOTE_FORCE)
    assert closed is False and result.color == "success" and "overridden" in str(result.children)
    latest = state.champion()
    assert (latest["run_id"], latest["model"], latest["reason"], latest["forced"]) == (
        run,
        "mobilenet_v2",
        "pilot",
        True,
    )


def test_errors_gallery_dataset_panel_and_exports(callbacks, run_ids):
    run = run_ids["sound"]
    true_options, _, cards = callbacks["errors_gallery"]("custom_cnn", None, None, run, ["custom_cnn"], None)
    assert true_options == ["murmur", "normal"] and cards
    summary, balance, groups, audit = callbacks["dataset"](run)
    assert "24 files" in summary.children and len(balance.data) == 2 and len(groups) == 3
    download = _call(callbacks["export_csv"], None, 1, run, ["custom_cnn"], None, triggered=ids.EXPORT_METRICS_BUTTON)
    assert download["filename"] == "training_metrics.csv" and "run_id,model,epoch" in download["content"]
    table = _call(callbacks["export_csv"], 1, None, run, ["custom_cnn"], None, triggered=ids.EXPORT_COMPARISON_BUTTON)
    assert table["filename"] == f"comparison_{run}.csv"
    exported = pd.read_csv(io.StringIO(table["content"]))
    assert list(exported.columns[:6]) == ["run", "dataset", "modality", "model", "accuracy", "accuracy_low"]
    assert exported.loc[0, ["run", "dataset", "model"]].tolist() == [run, "synthetic-heart-sounds", "custom_cnn"]
    for figure in ("accuracy", "auc"):  # interval ends are numbers around the figure, not "0.81–0.93" text
        low, value, high = (float(exported.loc[0, f"{figure}{end}"]) for end in ("_low", "", "_high"))
        assert low <= value <= high


def _components(tree, kind) -> list:
    """Every component of type `kind` inside a Dash component tree (or list of trees)."""
    if isinstance(tree, (list, tuple)):
        return [found for child in tree for found in _components(child, kind)]
    if not hasattr(tree, "to_plotly_json"):
        return []
    return ([tree] if isinstance(tree, kind) else []) + _components(getattr(tree, "children", None), kind)


def _gallery(root: Path, run_id: str) -> list:
    errors_gallery = callback_functions(create_app(Settings(artifacts_dir=root)))["errors_gallery"]
    return errors_gallery("custom_cnn", None, None, run_id, ["custom_cnn"], None)[2]


def test_errors_gallery_shows_the_pictures_and_recordings_stored_in_the_run_after_the_data_moved(moved_data_root):
    root, run = moved_data_root
    cards = _gallery(root, run.run_id)
    loaded = load_run(root, run.run_id)
    shown = tables.worst_errors(loaded, loaded.models["custom_cnn"])
    assert len(cards) == len(shown) == min(12, len(loaded.models["custom_cnn"].test))
    assert shown["sha256"].notna().all() and shown["path"].str.startswith("/data-that-moved/").all()
    pictures = [file_data_uri(run.preview(digest, ".png")) for digest in shown["sha256"]]
    recordings = [bytes_data_uri(run.preview(digest, ".wav").read_bytes(), "audio/wav") for digest in shown["sha256"]]
    assert [picture.src for picture in _components(cards, html.Img)] == pictures
    assert [recording.src for recording in _components(cards, html.Audio)] == recordings  # playable: sent as stored


def _rate(uri: str) -> int:
    with wave.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as recording:
        return recording.getframerate()


def test_errors_gallery_reencodes_recordings_stored_below_the_rate_chromium_plays(moved_data_root):
    root, run = moved_data_root
    store_recordings_at(run, 2000)  # Chromium refuses to play these
    recordings = [audio.src for audio in _components(_gallery(root, run.run_id), html.Audio)]
    assert recordings and all(r.startswith("data:audio/wav;base64,") for r in recordings)
    assert {_rate(r) for r in recordings} == {PLAYBACK_RATE}


def test_errors_gallery_of_a_run_without_previews_says_so_in_place_of_the_picture(previewless_root):
    root, run = previewless_root
    cards = _gallery(root, run.run_id)
    texts = [div.children for div in _components(cards, html.Div)]
    assert len(cards) == min(12, len(pd.read_csv(run.model("custom_cnn").predictions("test"))))
    assert texts.count(NO_PREVIEW) == len(cards)
    assert not _components(cards, html.Img) and not _components(cards, html.Audio)


def test_serving_history_lists_every_change_and_serves_an_earlier_champion_again(callbacks, run_ids, dashboard_root):
    state = _state(dashboard_root)
    first = state.champion()
    state.add_champion(run_ids["sound"], "custom_cnn", reason="trial", user="ana", files_sha256=None)
    badge = callbacks["refresh_runs"](None, None, None, None, None)[-1]
    assert badge.endswith("its files are not pinned (promoted before pins): promote it again")  # as before 0005
    rows, columns = callbacks["champion_history"](None, None, None, None)
    assert rows[0]["model"] == f"custom_cnn of {run_ids['sound']}" and rows[0]["by"] == "ana"
    assert {c["id"] for c in columns} == {"id", "when (UTC)", "model", "by", "reason"}
    assert callbacks["champion_history"](None, None, None, rows) == (no_update, no_update)  # a selection survives
    serve_again = callbacks["serve_again"]
    assert "Select the row" in str(serve_again(1, None, "why")[0].children)
    refused = serve_again(1, [first["id"]], "")
    assert "give a reason" in str(refused[0].children) and refused[1:] == (no_update,) * 3  # kept to correct
    result, *cleared = serve_again(1, [first["id"]], "trial over")
    assert result.color == "success" and cleared == [[], [], ""]  # no stale row for a second click to serve
    latest = state.champion()
    assert (latest["run_id"], latest["model"], latest["reason"]) == (first["run_id"], first["model"], "trial over")


def test_clinic_feedback_says_when_nothing_is_recorded_then_shows_each_served_model(tmp_path):
    settings = Settings(artifacts_dir=tmp_path, display_timezone="Europe/Paris")
    functions = callback_functions(create_app(settings))
    served, feedback = functions["served_models"], functions["clinic_feedback"]
    message, rows, _, _, style = feedback(None, None, None, None, "monitoring")
    assert served(None, None) == [] and rows == [] and style == {"display": "none"}
    assert message.children.startswith("No predictions recorded yet")

    log = AuditLog(settings.audit_database_url)
    clinic(log)
    options = served(None, None)
    assert [o["value"] for o in options] == [
        f"{FIELDS['run_id']}/custom_cnn",
        "20260220-090000-heart-sounds-c3d4/vgg16",
    ]
    assert options[0]["label"] == "custom_cnn @ 20260301-080000 · 6 predictions, last 2026-03-04 00:30 CET"
    message, rows, columns, figure, style = feedback(options[0]["value"], None, None, 1, "monitoring")
    assert message is None and style == {} and [c["id"] for c in columns] == list(tables.MONITOR_COLUMNS)
    assert [(r["model"], r["predictions"], r["overridden"]) for r in rows] == [("custom_cnn", 6, "40.0% (2 of 5)")]
    assert rows[0]["agreement"] == "50.0% (15.0%–85.0%), 2 of 4"
    volume = [t for t in figure.data if t.type == "bar"]
    assert [(list(t.x), list(t.y)) for t in volume] == [
        ([date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)], [4, 1, 1])  # days in Paris
    ]
    every, _, _, figure, _ = feedback(None, "2026-03-02", "2026-03-02T00:00:00", 1, "monitoring")
    assert every is None and {t.name for t in figure.data} == {
        "custom_cnn @ 20260301-080000",
        "vgg16 @ 20260220-090000",
    }
    nothing, rows, _, _, style = feedback(None, "2026-04-01", None, 1, "monitoring")
    assert nothing.children.startswith("No predictions of this model on these days") and style == {"display": "none"}
    with pytest.raises(PreventUpdate):  # drawn when shown: a figure drawn in a hidden tab gets a guessed width
        feedback(None, None, None, 2, "curves")
    with log.engine.begin() as connection:
        connection.execute(text("DROP TABLE feedback"))
    failed, rows, _, _, style = feedback(None, None, None, 3, "monitoring")
    assert failed.color == "danger" and "the audit log could not be read" in failed.children and rows == []
