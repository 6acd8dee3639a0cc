"""Prediction-page callbacks called directly, over real runs."""

import base64

import pytest
from dash.exceptions import PreventUpdate

from app_predict import ids
from app_predict.factory import create_app
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
    return callback_functions(create_app(settings, service=service)), service


def _upload(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_a_batch_reports_each_file_and_records_only_the_good_ones(page, model_keys):
    callbacks, service = page
    before = service.audit_log.count()
    inputs, results, status, rows, selected = call(
        callbacks["run_batch"],
        [_upload(good_png()), _upload(b"not an image"), _upload(good_png())],
        [],
        ["a.png", "notes.png", "b.png"],
        model_keys["image"],
        "CASE-9",
        triggered=ids.UPLOAD,
        prop="contents",
    )
    assert [r["status"] for r in rows] == [
        ("uncertain" if results[0]["uncertain"] else "ok"),
        "error",
        rows[2]["status"],
    ]
    assert rows[1]["result"].startswith("Error: not a supported image or sound file")
    assert "2 of 3 files analysed; 1 could not be read" in status.children
    assert selected == [0] and service.audit_log.count() == before + 2
    detail, index = callbacks["show_detail"]([0], results, inputs)
    assert index == 0 and results[0]["predicted"] in str(detail.to_plotly_json())
    heat, note = callbacks["heatmap"](True, 0, results, inputs)
    assert heat.startswith("data:image/png;base64,") and "Brighter regions" in note
    report = callbacks["download_report"](1, 0, results, heat)
    assert report["filename"].endswith(".html") and "not a certified medical device" in report["content"]
    other = next(c for c in results[0]["class_names"] if c != results[0]["predicted"])  # an override changes the class
    saved = call(callbacks["feedback"], None, 1, other, "checked", 0, results, triggered=ids.OVERRIDE_BUTTON)
    assert f"Overridden: recorded as {other}" in saved.children
    assert service.audit_log.get(results[0]["id"])["feedback_comment"] == "checked"


def test_examples_follow_the_model_and_made_up_paths_are_refused(page, model_keys, predict_root):
    callbacks, _ = page
    buttons = callbacks["examples"](model_keys["image"])
    assert "synthetic-audiograms" in str(buttons[1].children)
    assert "No bundled examples" in str(callbacks["examples"](model_keys["sound"])[0].children)
    with pytest.raises(PreventUpdate):
        call(
            callbacks["run_batch"],
            None,
            [1],
            None,
            model_keys["image"],
            None,
            triggered={"type": ids.EXAMPLE_BUTTON, "index": "/etc/passwd"},
        )
    example = str(next((predict_root / "examples" / "synthetic-audiograms").iterdir()))
    _, results, *_ = call(
        callbacks["run_batch"],
        None,
        [1],
        None,
        model_keys["image"],
        None,
        triggered={"type": ids.EXAMPLE_BUTTON, "index": example},
    )
    assert results[0]["filename"] == example.rsplit("/", 1)[-1] and not results[0].get("error")


def test_audit_page_filters_and_exports(page):
    callbacks, _ = page
    rows = callbacks["audit_rows"](None, "CASE-9", "", "", None)
    assert rows and all(r["case_ref"] == "CASE-9" for r in rows)
    overridden = callbacks["audit_rows"](None, None, "", "overridden", None)
    assert all(r["feedback"] == "overridden" for r in overridden)
    export = callbacks["audit_export"](1, None, "CASE-9", "", "")
    assert export["filename"] == "predictions.csv" and "CASE-9" in export["content"]
