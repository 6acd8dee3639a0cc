"""Login from AUTH_USERS: the page, the API, the audit log and the dashboard all require it; health checks do not."""

import base64

import pytest
from werkzeug.security import generate_password_hash

from app_predict.factory import create_app as create_predict
from app_train_dashboard.factory import create_app as create_dashboard
from core.errors import CoreError
from core.settings import Settings


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def settings(predict_root):
    users = f"alice:{generate_password_hash('correct horse')}"
    return Settings.from_env({"ARTIFACTS_DIR": str(predict_root), "AUTH_USERS": users})


def test_every_page_and_endpoint_needs_a_login(settings):
    client = create_predict(settings).server.test_client()
    for path in ("/", "/audit", "/api/models", "/api/predictions", "/_dash-layout"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "Basic" in response.headers["WWW-Authenticate"]
    assert client.get("/api/models").get_json()["error"].startswith("login required")
    assert client.get("/api/models", headers=_basic("alice", "wrong")).status_code == 401
    assert client.get("/api/models", headers=_basic("alice", "correct horse")).status_code == 200
    assert client.get("/healthz").status_code in (200, 503)  # open for the platform's health check
    dashboard = create_dashboard(settings).server.test_client()
    assert dashboard.get("/").status_code == 401
    assert dashboard.get("/", headers=_basic("alice", "correct horse")).status_code == 200


def test_open_mode_says_so_and_bad_user_lists_are_refused(predict_root):
    client = create_predict(Settings(artifacts_dir=predict_root)).server.test_client()
    assert "Open access: no login configured" in str(client.get("/_dash-layout").get_json())
    with pytest.raises(CoreError, match="AUTH_USERS"):
        Settings.from_env({"AUTH_USERS": "alice-without-hash"})


def test_priming_sets_up_dash_in_a_worker_even_when_login_is_required(settings):
    """Login runs before Dash's own first-request hooks: the start-up request must still reach them."""
    from core.web.warmup import prime

    app = create_predict(settings)
    prime(app.server)
    assert app._got_first_request == {"pages": True, "setup_server": True}
    assert app.server.test_client().get("/_dash-layout").status_code == 401  # priming opened nothing
