"""Out-of-distribution uploads through the API, the audit log, the result card and the report: no class anywhere."""

import io

import requests

from app_predict.factory import create_app as create_predict
from app_predict.report import OOD_TEXT, report_html
from app_predict.result_card import result_card
from core.evaluation.ood import NO_REFERENCE
from core.settings import Settings
from tests.core.serving.test_ood import as_before_the_check, noise_png, photo_like, scribbles_on_paper


def _predict(server, name, data, model, **fields):
    return requests.post(
        f"{server}/api/predict", files={"file": (name, data)}, data={"model": model, **fields}, timeout=60
    )


def test_a_photo_sent_to_a_chart_model_is_refused_in_words_and_recorded_so(server, model_keys):
    response = _predict(server, "throat.png", photo_like(), model_keys["image"], case_ref="OOD-0")
    assert response.status_code == 422 and "does not look like a chart" in response.json()["error"]
    rows = requests.get(f"{server}/api/predictions", params={"case_ref": "OOD-0"}, timeout=10).json()["predictions"]
    assert rows[0]["predicted"] is None and "does not look like a chart" in rows[0]["refused_reason"]


def test_an_out_of_distribution_upload_gets_no_class_and_is_recorded_so(server, model_keys):
    response = _predict(server, "scribbles.png", scribbles_on_paper(), model_keys["image"], case_ref="OOD-1")
    assert response.status_code == 200
    body = response.json()
    assert body["class"] is None and body["out_of_distribution"] is True and body["uncertain"] is True
    assert body["ood_score"] > 1 and "unlike the training data" in body["ood_reason"]
    rows = requests.get(f"{server}/api/predictions", params={"case_ref": "OOD-1"}, timeout=10).json()["predictions"]
    assert rows[0]["id"] == body["id"] and rows[0]["predicted"] is None
    assert rows[0]["out_of_distribution"] is True and rows[0]["ood_score"] == body["ood_score"]
    csv_text = requests.get(f"{server}/api/predictions", params={"format": "csv"}, timeout=10).text
    header, *lines = csv_text.splitlines()
    assert "out_of_distribution" in header.split(",") and "ood_score" in header.split(",")
    assert any(line.startswith(body["id"]) and ",True," in line for line in lines)


def test_the_card_and_the_report_withhold_the_class(server, model_keys):
    body = _predict(server, "scribbles.png", scribbles_on_paper(1), model_keys["image"]).json()
    when = "2026-01-01T00:00:00+00:00"
    result = {**body, "predicted": body["class"], "run_id": body["run"], "picture": None, "created_at": when}
    card = str(result_card(result).to_plotly_json())
    assert OOD_TEXT in card and "Calibrated probability per class" not in card
    page = report_html(result, picture=None, heatmap=None, generated_at=when)
    assert OOD_TEXT in page and "Predicted class" not in page and "not a result" in page
    assert not any(f"<td>{name}</td>" in page for name in body["probabilities"])


def test_a_model_exported_before_the_check_still_serves_through_the_api(image_run, tmp_path):
    old = as_before_the_check(image_run, tmp_path)
    client = create_predict(Settings(artifacts_dir=tmp_path)).server.test_client()
    response = client.post(
        "/api/predict", data={"file": (io.BytesIO(noise_png()), "a.png"), "model": f"{old.run_id}/custom_cnn"}
    )
    body = response.get_json()
    assert response.status_code == 200 and body["class"] in body["probabilities"]
    assert body["out_of_distribution"] is None and body["ood_reason"] == NO_REFERENCE
    assert body["uncertain"] is True  # it cannot tell an input it can judge from one it cannot: never confident
    card = str(result_card({**body, "predicted": body["class"], "run_id": body["run"]}).to_plotly_json())
    assert "Uncertain: refer for specialist review" in card and "cannot check that the input is like" in card
