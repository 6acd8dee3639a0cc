"""ANALYST_USERS: only the analysts named may change what is served; a clinician's login may not."""

import base64
import logging

import pytest
from werkzeug.security import generate_password_hash

from app_predict.factory import create_app
from core.errors import CoreError
from core.settings import Settings

HASH = generate_password_hash("pw", method="pbkdf2:sha256:1000")
CHANGES = (
    ("/api/champion", {"run": "r", "model": "m", "reason": "why"}),
    ("/api/champion/rollback", {"reason": "why"}),
    ("/api/operating-points", {"run": "r", "model": "m", "band": [0, 0]}),
)


def _login(name: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:pw".encode()).decode()}


def test_only_analysts_change_what_is_served(tmp_path):
    settings = Settings(artifacts_dir=tmp_path, users=f"nurse:{HASH},ana:{HASH}", analysts="ana")
    client = create_app(settings).server.test_client()
    for path, body in CHANGES:
        refused = client.post(path, json=body, headers=_login("nurse"))
        assert refused.status_code == 403, path
        assert "ANALYST_USERS" in refused.get_json()["error"]
        assert client.post(path, json=body, headers=_login("ana")).status_code in (404, 422), path  # let through
    assert client.post("/api/champion", json={}, headers=_login("nurse")).status_code == 403  # before the body
    assert client.get("/api/champion", headers=_login("nurse")).status_code == 200  # reading stays open to users


def test_without_analysts_named_every_user_may_and_the_app_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="app_predict.factory"):
        client = create_app(Settings(artifacts_dir=tmp_path, users=f"nurse:{HASH}")).server.test_client()
    assert "ANALYST_USERS is not" in caplog.text
    body = {"run": "r", "model": "m", "reason": "why"}
    assert client.post("/api/champion", json=body, headers=_login("nurse")).status_code == 404  # no run r
    open_app = create_app(Settings(artifacts_dir=tmp_path)).server.test_client()
    assert open_app.post("/api/champion", json=body).status_code == 404  # open apps have no identity to check


def test_an_analyst_must_be_a_user():
    with pytest.raises(CoreError, match="ANALYST_USERS must name users of AUTH_USERS, got 'bob'"):
        Settings(users=f"ana:{HASH}", analysts="bob")
    with pytest.raises(CoreError, match="ANALYST_USERS"):
        Settings.from_env({"ANALYST_USERS": "ana"})  # analysts without any login
    assert Settings.from_env({"AUTH_USERS": f"ana:{HASH},bo:{HASH}", "ANALYST_USERS": " ana, "}).analysts == {"ana"}
