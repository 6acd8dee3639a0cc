"""Prediction-page callbacks called directly, over real runs."""

import base64
import json

import pytest
from dash.exceptions import PreventUpdate

from app_predict import ids
from app_predict.factory import create_app
from app_predict.pages.predict import in_chosen_order
from core.serving.service import PredictionService
from core.settings import Settings
from core.store.examples import export_examples
from tests.support.bad_inputs import good_png
from tests.support.callbacks import call, callback_functions


@pytest.fixture(scope="module")
def page(predict_root, run_ids):
    export_examples(predict_root, run_ids["image"], per_class=1)
    settings = Settings(artifacts_dir=predict_root)
    service = PredictionService(settings)
    app = create_app(settings, service=service)
    return callback_functions(app), service, app.server.test_client()


def _run_batch(callbacks, model, *, triggered, contents=None, pick=None, filenames=None, case_ref=None):
    """`run_batch` as Dash calls it when `triggered` (the upload, the picked example or the model) changes."""
    prop = {ids.UPLOAD: "contents", ids.EXAMPLE_PICK: "data", ids.MODEL_SELECT: "value"}[triggered]
    return call(
        callbacks["run_batch"], contents, pick, model, filenames, None, case_ref, triggered=triggered, prop=prop
    )


def _upload(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_a_batch_reports_each_file_and_records_only_the_good_ones(page, model_keys):
    callbacks, service, client = page
    before = service.audit_log.count()
    inputs, results, status, rows, selected, emptied, picked = _run_batch(
        callbacks,
        model_keys["image"],
        triggered=ids.UPLOAD,
        contents=[_upload(good_png()), _upload(b"not an image"), _upload(good_png())],
        filenames=["a.png", "notes.png", "b.png"],
        case_ref="CASE-9",
    )
    assert emptied is None and picked is None  # emptied, so choosing the same files again runs again
    assert [r["status"] for r in rows] == [
        ("uncertain" if results[0]["uncertain"] else "ok"),
        "error",
        rows[2]["status"],
    ]
    assert rows[1]["result"].startswith("Error: not a supported image or sound file")
    assert "2 of 3 files analysed; 1 refused" in status.children
    assert selected == [0] and service.audit_log.count() == before + 2
    detail, index = callbacks["show_detail"]([0], results, inputs)
    card = str(detail.to_plotly_json())
    assert index == 0 and results[0]["predicted"] in card and ids.PICTURE_GRAPH in card
    figure, note, overlay = callbacks["heatmap"](True, 0.6, 0, results, inputs)
    heat = figure.to_plotly_json()["operations"][0]["params"]["value"]
    assert heat["type"] == "heatmap" and heat["opacity"] == 0.6 and heat["colorbar"]["ticktext"] == ["none", "largest"]
    assert overlay["id"] == results[0]["id"] and "hiding them lowered the probability" in note
    assert overlay["png"].startswith("data:image/png;base64,")
    other = next(c for c in results[0]["class_names"] if c != results[0]["predicted"])  # an override changes the class
    saved = call(callbacks["feedback"], None, 1, other, "checked", 0, results, triggered=ids.OVERRIDE_BUTTON)
    assert f"Overridden: recorded as {other}" in saved.children
    assert service.audit_log.get(results[0]["id"])["feedback_comment"] == "checked"
    report = callbacks["download_report"](1, 0, results, overlay)["content"]
    assert report.count(overlay["png"]) == 1  # the heatmap of this prediction, and no other's
    assert overlay["png"] not in callbacks["download_report"](1, 2, results, overlay)["content"]
    assert "not a certified medical device" in report and "CASE-9" in report and "checked" in report
    assert "<td>overridden</td>" in report and f"<td>{other}</td>" in report and "Operating point in force" in report
    filed = client.get(f"/api/predictions/{results[0]['id']}/report")  # the same record, from the API
    assert filed.status_code == 200 and filed.mimetype == "text/html" and "<td>overridden</td>" in filed.text
    missing = client.get("/api/predictions/0123/report")
    assert missing.status_code == 404 and "no prediction with id" in missing.get_json()["error"]


def test_a_new_model_clears_the_results_of_the_old_one(page, model_keys):
    callbacks, *_ = page
    cleared = _run_batch(callbacks, model_keys["sound"], triggered=ids.MODEL_SELECT)
    assert cleared == (None, None, None, [], [], None, None)
    assert callbacks["show_detail"]([], None, None) == (None, None)


def test_a_batch_keeps_the_order_the_files_were_chosen_in():
    loaded = ["c.png", "a.png", "b.png", "a.png"]  # the order the browser finished reading them
    ordered = in_chosen_order(loaded, ["C", "A1", "B", "A2"], ["a.png", "b.png", "a.png", "c.png"])
    assert [(i["filename"], i["contents"]) for i in ordered] == [
        ("a.png", "A1"),
        ("a.png", "A2"),
        ("b.png", "B"),
        ("c.png", "C"),
    ]
    assert [i["filename"] for i in in_chosen_order(loaded, list("1234"), None)] == loaded


def test_examples_follow_the_model_and_made_up_paths_are_refused(page, model_keys, predict_root):
    callbacks, *_ = page
    buttons = callbacks["examples"](model_keys["image"])[1].children
    layout = json.dumps([b.to_plotly_json() for b in buttons], default=str)
    labels = [b.children[1].children for b in buttons]
    assert len(set(labels)) == len(labels) and all(label.rsplit(" ", 1)[1].isdigit() for label in labels)
    assert all(b.children[0].src.startswith("data:image/png;base64,") for b in buttons)  # thumbnails
    assert str(predict_root) not in layout and "__" not in layout  # ids and labels hold no file path or name
    assert "No bundled examples" in str(callbacks["examples"](model_keys["sound"])[0].children)
    picked = call(callbacks["pick_example"], [1] + [None] * (len(buttons) - 1), triggered=buttons[0].id)
    assert picked == buttons[0].id["index"]
    for made_up in ("/etc/passwd", "0" * 16):
        with pytest.raises(PreventUpdate):
            _run_batch(callbacks, model_keys["image"], triggered=ids.EXAMPLE_PICK, pick=made_up)
    _, results, *_ = _run_batch(callbacks, model_keys["image"], triggered=ids.EXAMPLE_PICK, pick=picked)
    assert results[0]["filename"].endswith(".png") and not results[0].get("error")


def test_audit_page_filters_and_exports(page):
    callbacks, *_ = page
    refresh = {"triggered": ids.AUDIT_REFRESH}
    rows, *_ = call(callbacks["audit_rows"], None, "CASE-9", "", "", None, None, **refresh)
    assert rows and all(r["case_ref"] == "CASE-9" for r in rows)
    overridden, *_ = call(callbacks["audit_rows"], None, None, "", "overridden", None, None, **refresh)
    assert overridden and all(r["feedback"] == "overridden" for r in overridden)
    export = callbacks["audit_export"](1, None, "CASE-9", "", "")
    assert export["filename"] == "predictions.csv" and "CASE-9" in export["content"]
