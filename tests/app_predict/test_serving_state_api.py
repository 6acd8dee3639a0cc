"""The serving-state REST endpoints, a database that refuses writes, and damage to a run that is not served.

Each test builds its own ARTIFACTS_DIR (both tiny runs, the newest run's best
model promoted) and talks to the app through Flask's test client; one talks
to a real gunicorn server.
"""

import base64
import io
import sqlite3

import pytest
import requests
from werkzeug.security import generate_password_hash

from app_predict.factory import create_app
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import servable_models
from tests.conftest import combine_runs, promote_newest_best
from tests.core.store.test_database import HEAD
from tests.support.bad_inputs import bad_sounds, good_png
from tests.support.servers import gunicorn

LOGIN = {"Authorization": "Basic " + base64.b64encode(b"alice:correct horse").decode()}


@pytest.fixture
def served(tmp_path, image_run, sound_run):
    """(ARTIFACTS_DIR, champion row, the other run's id) in a fresh folder of this test's own."""
    root = combine_runs(tmp_path / "artifacts", (image_run, sound_run))
    champion = promote_newest_best(root)
    other = next(run[1] for run in (image_run, sound_run) if run[1] != champion["run_id"])
    return root, champion, other


def _client(root, **settings):
    return create_app(Settings(artifacts_dir=root, **settings)).server.test_client()


def _upload(client, root, champion):
    """Post one good file of the champion's modality (no `model`: the champion answers)."""
    modality = next(m for m in client.get("/api/models").get_json()["models"] if m["champion"])["modality"]
    data = good_png() if modality == "image" else bad_sounds()["float.wav"][0]
    name = "photo.png" if modality == "image" else "beat.wav"
    return client.post("/api/predict", data={"file": (io.BytesIO(data), name)})


def test_champion_can_be_read_promoted_with_guardrails_and_rolled_back(served):
    root, champion, other = served
    client = _client(root)
    before = client.get("/api/champion").get_json()
    assert before["champion"]["run_id"] == champion["run_id"] and len(before["history"]) == 1
    model = servable_models(root, other)[0]
    promoted = client.post("/api/champion", json={"run": other, "model": model, "reason": "better", "force": True})
    assert promoted.status_code == 200 and (promoted.get_json()["run_id"], promoted.get_json()["model"]) == (
        other,
        model,
    )
    assert client.get("/api/champion").get_json()["champion"]["run_id"] == other
    rolled = client.post("/api/champion/rollback", json={"reason": "worse in clinic"})
    assert rolled.status_code == 200 and rolled.get_json()["run_id"] == champion["run_id"]
    history = client.get("/api/champion").get_json()["history"]
    assert [row["reason"] for row in history] == ["worse in clinic", "better", "test fixture"]


def test_operating_points_are_versioned_and_served_at_once(served):
    root, champion, _ = served
    client = _client(root)
    key = {"run": champion["run_id"], "model": champion["model"]}
    assert client.get("/api/operating-points", query_string=key).get_json()["in_force"]["version"] == 0
    saved = client.post("/api/operating-points", json={**key, "band": [0.2, 0.4], "note": "from the clinic"})
    assert saved.status_code == 200 and saved.get_json()["version"] == 1
    assert saved.get_json()["review_band"] == [0.2, 0.4]
    listed = client.get("/api/operating-points", query_string=key).get_json()
    assert listed["in_force"]["version"] == 1 and [v["note"] for v in listed["versions"]] == ["from the clinic"]
    prediction = _upload(client, root, champion)
    assert prediction.status_code == 200
    assert prediction.get_json()["operating_point_version"] == 1 and prediction.get_json()["review_band"] == [0.2, 0.4]


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/api/champion", "not json", 400),
        ("/api/champion", [1, 2], 400),
        ("/api/champion", {"model": "custom_cnn", "reason": "r"}, 422),
        ("/api/champion", {"run": 7, "model": "custom_cnn", "reason": "r"}, 422),
        ("/api/champion", {"run": "r", "model": "custom_cnn", "reason": "r", "force": "yes"}, 422),
        ("/api/champion", {"run": "no-such-run", "model": "custom_cnn", "reason": "r"}, 404),
        ("/api/champion/rollback", {}, 422),
        ("/api/champion/rollback", {"reason": "   "}, 422),
        ("/api/champion/rollback", {"reason": "nothing earlier"}, 404),
        ("/api/champion/rollback", {"reason": "r", "to": True}, 422),
        ("/api/champion/rollback", {"reason": "r", "to": "3"}, 422),
        ("/api/champion/rollback", {"reason": "r", "to": 999}, 404),
        ("/api/champion/rollback", {"reason": "r", "to": 10**30}, 422),  # beyond any row id: no overflow
        ("/api/champion/rollback", {"reason": "r", "to": 0}, 422),
        ("/api/operating-points", {"run": "r"}, 422),
        ("/api/operating-points", {"run": "r", "model": "m", "threshold": "high"}, 422),
        ("/api/operating-points", {"run": "r", "model": "m", "threshold": True}, 422),
        ("/api/operating-points", {"run": "r", "model": "m", "band": [0.1]}, 422),
        ("/api/operating-points", {"run": "r", "model": "m", "band": [0.1, "x"]}, 422),
        ("/api/operating-points", {"run": "r", "model": "m"}, 404),
    ],
)
def test_bad_bodies_answer_a_json_error_never_500(served, path, body, status):
    client = _client(served[0])
    if isinstance(body, str):
        response = client.post(path, data=body, content_type="application/json")
    else:
        response = client.post(path, json=body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] and "Traceback" not in response.get_json()["error"]


def test_an_out_of_range_operating_point_is_refused_with_the_value(served):
    root, champion, _ = served
    body = {"run": champion["run_id"], "model": champion["model"], "threshold": 1.5}
    response = _client(root).post("/api/operating-points", json=body)
    assert response.status_code == 422 and "1.5" in response.get_json()["error"]
    assert _client(root).get("/api/operating-points?run=only").status_code == 400


def test_changes_need_a_login_and_record_the_user(served):
    root, champion, _ = served
    client = _client(root, users={"alice": generate_password_hash("correct horse")})
    key = {"run": champion["run_id"], "model": champion["model"]}
    assert client.get("/api/champion").status_code == 401
    assert client.post("/api/operating-points", json={**key, "threshold": 0.4}).status_code == 401
    saved = client.post("/api/operating-points", json={**key, "threshold": 0.4, "band": [0.3, 0.5]}, headers=LOGIN)
    assert saved.status_code == 200 and saved.get_json()["user"] == "alice"
    promoted = client.post("/api/champion", json={**key, "reason": "again", "force": True}, headers=LOGIN)
    assert promoted.status_code == 200 and promoted.get_json()["user"] == "alice"


def test_a_read_only_database_answers_503_on_health_and_predictions(served):
    root, champion, _ = served
    database = ArtifactsLayout(root).audit_db.resolve()
    client = _client(root, database_url=f"sqlite:///file:{database}?mode=ro&uri=true")
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] is False
    assert "does not accept writes" in health.get_json()["error"] and str(root) not in health.get_json()["error"]
    before = client.get("/api/predictions").get_json()["predictions"]
    prediction = _upload(client, root, champion)
    assert prediction.status_code == 503 and "was not recorded" in prediction.get_json()["error"]
    assert client.get("/api/predictions").get_json()["predictions"] == before
    again = {"run": champion["run_id"], "model": champion["model"], "reason": "cannot be written", "force": True}
    changed = client.post("/api/champion", json=again)
    assert changed.status_code == 503 and "serving state" in changed.get_json()["error"]


@pytest.mark.parametrize("damage", ["status", "report", "tflite"])
def test_a_damaged_run_that_is_not_served_leaves_the_champion_serving(served, damage):
    root, champion, other = served
    run = ArtifactsLayout(root).run(other)
    target = {"status": run.status, "report": run.model("custom_cnn").report, "tflite": run.model("custom_cnn").tflite}
    path = target[damage]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    client = _client(root)
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/models").status_code == 200
    assert _upload(client, root, champion).status_code == 200
    assert client.get("/api/champion").get_json()["champion"]["damaged"] is None
    damaged = client.post(
        "/api/predict", data={"file": (io.BytesIO(good_png()), "a.png"), "model": f"{other}/custom_cnn"}
    )
    assert 400 <= damaged.status_code < 500 or damaged.status_code == 503, damaged.get_json()
    assert str(root) not in damaged.get_json()["error"]


def test_two_workers_without_preload_migrate_a_fresh_database_and_serve_what_the_api_sets(served):
    """gunicorn upgrades the schema in its master; each worker opens its own engine on the shared database."""
    root, champion, _ = served
    fresh = root.parent / "fresh" / "audit.db"
    key = {"run": champion["run_id"], "model": champion["model"]}
    env = {
        "ARTIFACTS_DIR": str(root),
        "DATABASE_URL": f"sqlite:///{fresh}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_PRELOAD": "false",
    }
    with gunicorn("app_predict.app:server", env) as url:
        health = requests.get(f"{url}/healthz", timeout=30)
        assert health.status_code == 503 and health.json()["database"] is True  # no champion yet in this database
        json_list = {"data": "[]", "headers": {"Content-Type": "application/json"}}
        assert requests.post(f"{url}/api/champion", timeout=30, **json_list).status_code == 400
        promoted = requests.post(f"{url}/api/champion", json={**key, "reason": "first", "force": True}, timeout=30)
        assert promoted.status_code == 200
        saved = requests.post(f"{url}/api/operating-points", json={**key, "threshold": 0.42}, timeout=30)
        assert saved.status_code == 200 and saved.json()["version"] == 1 and saved.json()["threshold"] == 0.42
        for _ in range(6):  # whichever worker answers, it reads the rows just written
            listed = requests.get(f"{url}/api/operating-points", params=key, timeout=30).json()
            assert listed["in_force"]["version"] == 1
            assert requests.get(f"{url}/healthz", timeout=30).status_code == 200
    with sqlite3.connect(fresh) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
