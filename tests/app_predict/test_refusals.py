"""Uploads refused for quality: recorded as refused in the audit log, never a case on the specialist's worklist.

A refused upload has no model answer to review: the person who sent it was
told why and to send a better input. So it is not on the worklist (nor in
its count), takes no review, and the audit log lists it under its own
"refused for quality" filter, never as a "confident" row. The module keeps
inputs (STORE_INPUTS): the refusals that used to wait on the worklist.
"""

import io
import json

import pytest

from app_predict import ids
from app_predict.factory import create_app
from core.settings import Settings
from tests.app_predict.test_audit_page import page  # noqa: F401  (the fixture: rows recorded straight in the log)
from tests.conftest import combine_runs, promote_newest_best
from tests.support.bad_inputs import bad_images, bad_sounds, good_png
from tests.support.callbacks import call, callback_functions

REFUSED_SOUNDS = ("truncated.wav", "eight_samples.wav", "digital_silence.wav", "one_and_a_half_seconds.wav")


@pytest.fixture(scope="module")
def root(tmp_path_factory, image_run, sound_run):
    root = combine_runs(tmp_path_factory.mktemp("refusals"), (image_run, sound_run))
    promote_newest_best(root)
    return root


@pytest.fixture
def app(root):
    return create_app(Settings(artifacts_dir=root, store_inputs=True))


def _post(client, data: bytes, model: str, case_ref: str, name: str):
    return client.post("/api/predict", data={"file": (io.BytesIO(data), name), "model": model, "case_ref": case_ref})


def _listed(client, **query) -> list[dict]:
    response = client.get("/api/predictions", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["predictions"]


def test_a_refused_upload_is_logged_as_refused_and_never_waits_for_review(app, model_keys):
    client = app.server.test_client()
    uploads = [(bad_images()["uniform_teal.png"][0], "image", "blank.png")]
    uploads += [(bad_sounds()[name][0], "sound", name) for name in REFUSED_SOUNDS]
    for index, (data, kind, name) in enumerate(uploads):
        response = _post(client, data, model_keys[kind], f"RF-{index}", name)
        assert 400 <= response.status_code < 500 and response.get_json()["error"], name
    assert _post(client, good_png(), model_keys["image"], "RF-ok", "chart.png").status_code == 200
    refused = {row["case_ref"]: row for row in _listed(client, refused="true") if row["case_ref"].startswith("RF-")}
    assert "RF-0" in refused and "RF-ok" not in refused  # the blank chart is recorded, as refused
    assert all(row["refused_reason"] and row["predicted"] is None for row in refused.values())
    assert all(row["review_reason"] is None for row in refused.values())
    waiting = _listed(client, awaiting_review="true")
    assert not [row for row in waiting if row["refused_reason"]]  # none on the worklist, whatever their input
    hint = client.get("/api/predictions", query_string={"awaiting_review": "true", "reason": "refused"})
    assert hint.status_code == 422 and "refused=true" in hint.get_json()["error"]
    review = {"prediction_id": refused["RF-0"]["id"], "verdict": "overridden", "correct_label": "normal"}
    answer = client.post("/api/feedback", json=review)
    assert answer.status_code == 422 and "no model answer to review" in answer.get_json()["error"]


def test_a_refusal_opened_on_the_worklist_shows_its_reason_and_no_sign_off(app, model_keys):
    callbacks = callback_functions(app)  # before any request: Dash adds entries of its own on the first one
    client = app.server.test_client()
    assert _post(client, bad_images()["uniform_teal.png"][0], model_keys["image"], "RO-1", "blank.png").status_code
    [row] = _listed(client, refused="true", case_ref="RO-1")
    view = json.dumps(callbacks["open_case"](row["id"]).to_plotly_json(), default=str)
    assert "Refused for quality" in view and "nothing to review" in view and "data:image/png;base64," in view
    assert ids.CASE_SIGN not in view and ids.CASE_LABEL not in view
    rows, *_, count, _ = call(callbacks["worklist_rows"], "any", None, "any", 0, None, None)
    assert row["id"] not in [r["id"] for r in rows] and "awaiting review" in count


def test_the_audit_log_filters_refusals_apart_and_never_calls_them_confident(page):  # noqa: F811
    callbacks, _ = page
    rows, *_, count = call(callbacks["audit_rows"], None, None, "refused", "any", 0, None, prop="value")
    assert [row["case_ref"] for row in rows] == ["R-1"] and "1 recorded" in count
    assert rows[0]["predicted"] == "refused" and "recording is silent" in rows[0]["warnings"]
    confident, *_ = call(callbacks["audit_rows"], None, None, "false", "any", 0, None, prop="value")
    assert confident and "R-1" not in [row["case_ref"] for row in confident]
    export = call(callbacks["audit_export"], 1, None, None, "refused", "any", triggered=ids.AUDIT_EXPORT)
    lines = export["content"].splitlines()
    assert len(lines) == 2 and "recording is silent" in lines[1]
