"""The REST API through a real gunicorn server: good files, every bad input, a batch with one bad file."""

import pytest
import requests

from tests.support.bad_inputs import bad_images, bad_sounds, good_png


def _predict(server, name, data, model, **fields):
    return requests.post(
        f"{server}/api/predict", files={"file": (name, data)}, data={"model": model, **fields}, timeout=60
    )


def test_models_and_health(server, model_keys):
    models = requests.get(f"{server}/api/models", timeout=10).json()["models"]
    assert {m["key"] for m in models} >= set(model_keys.values())
    assert sum(m["champion"] for m in models) == 1
    health = requests.get(f"{server}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["database"] is True and health.json()["status"] == "ok"


def test_prediction_and_feedback(server, model_keys):
    response = _predict(server, "photo.png", good_png(), model_keys["image"], case_ref="CASE-7")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"id", "class", "probabilities", "uncertain", "warnings", "model", "run"}
    assert body["model"] == "custom_cnn" and f"{body['run']}/custom_cnn" == model_keys["image"]
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    other = next(c for c in body["probabilities"] if c != body["class"])  # an override names another class
    review = {"prediction_id": body["id"], "verdict": "overridden", "correct_label": other, "comment": "reviewed"}
    same = requests.post(f"{server}/api/feedback", json={**review, "correct_label": body["class"]}, timeout=10)
    assert body["class"] is None or (same.status_code == 422 and "confirm it instead" in same.json()["error"])
    feedback = requests.post(f"{server}/api/feedback", json=review, timeout=10)
    assert feedback.status_code == 200 and feedback.json()["correct_label"] == other
    rows = requests.get(f"{server}/api/predictions", params={"case_ref": "CASE-7"}, timeout=10).json()["predictions"]
    assert (
        rows[0]["id"] == body["id"]
        and rows[0]["feedback"] == "overridden"
        and rows[0]["feedback_comment"] == "reviewed"
    )
    csv_text = requests.get(f"{server}/api/predictions", params={"format": "csv"}, timeout=10).text
    assert csv_text.startswith("id,created_at,case_ref") and body["id"] in csv_text


@pytest.mark.parametrize("kind, cases", [("image", bad_images()), ("sound", bad_sounds())])
def test_every_bad_input_gets_a_clear_json_answer_and_the_server_survives(server, model_keys, kind, cases):
    for name, (data, expected) in cases.items():
        response = _predict(server, name, data, model_keys[kind])
        body = response.json()
        if expected == "error":
            assert 400 <= response.status_code < 500, (name, response.status_code, body)
            assert body["error"].startswith(f"{name}: ") and "Traceback" not in body["error"], name
        else:
            assert response.status_code == 200, (name, body)
            judged = body["class"] in body["probabilities"]
            assert judged or (body["class"] is None and body["out_of_distribution"]), name
    assert requests.get(f"{server}/healthz", timeout=10).status_code == 200


def test_refusals_name_their_reason(server, model_keys):
    cases = {"notes.png": 415, "empty.png": 400, "bomb.png": 422}
    images = bad_images()
    for name, status in cases.items():
        response = _predict(server, name, images[name][0], model_keys["image"])
        assert response.status_code == status, (name, response.json())
    bomb = _predict(server, "bomb.png", images["bomb.png"][0], model_keys["image"]).json()["error"]
    assert "too large to decode safely" in bomb or "megapixel limit" in bomb
    hour = _predict(server, "hour.wav", bad_sounds()["hour.wav"][0], model_keys["sound"]).json()["error"]
    assert "60.0 min long, above the 15-minute limit" in hour
    wrong = _predict(server, "photo.png", good_png(), model_keys["sound"])
    assert wrong.status_code == 415 and "reads sounds" in wrong.json()["error"]
    unknown = _predict(server, "photo.png", good_png(), "nope/custom_cnn")
    assert unknown.status_code == 404
    assert requests.post(f"{server}/api/predict", timeout=10).status_code == 400
    assert (
        requests.post(
            f"{server}/api/feedback", json={"prediction_id": "missing", "verdict": "confirmed"}, timeout=10
        ).status_code
        == 404
    )


def test_a_batch_with_one_bad_file_still_predicts_the_others(server, model_keys):
    batch = [("a.png", good_png()), ("broken.png", b"\x89PNG\r\n\x1a\nbroken"), ("b.png", good_png())]
    before = len(requests.get(f"{server}/api/predictions", params={"limit": 5000}, timeout=10).json()["predictions"])
    statuses = [_predict(server, name, data, model_keys["image"]).status_code for name, data in batch]
    assert statuses == [200, 422, 200]
    after = len(requests.get(f"{server}/api/predictions", params={"limit": 5000}, timeout=10).json()["predictions"])
    assert after == before + 2  # the refused file left no row


def test_large_uploads_stay_in_memory(predict_root, model_keys, monkeypatch):
    """A 3 MB upload is parsed without Werkzeug's temporary file (no upload on disk)."""
    from werkzeug import formparser

    from app_predict.factory import create_app
    from core.settings import Settings

    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was spooled to a temporary file")

    client = create_app(Settings(artifacts_dir=predict_root)).server.test_client()
    monkeypatch.setattr(formparser, "SpooledTemporaryFile", no_disk)
    big = good_png() + b"\0" * 3_000_000  # PNG readers ignore trailing bytes
    response = client.post(
        "/api/predict", data={"file": (__import__("io").BytesIO(big), "big.png"), "model": model_keys["image"]}
    )
    assert response.status_code == 200, response.get_json()
