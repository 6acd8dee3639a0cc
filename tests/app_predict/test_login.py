"""Login from AUTH_USERS: the page, the API, the audit log and the dashboard all require it; health checks do not."""

import base64

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

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


def test_an_unknown_user_is_checked_against_a_hash_as_costly_as_a_real_one(settings, monkeypatch):
    """So that the answer's timing does not tell which user names exist."""
    from core.web import login

    checked = []

    def recording(hashed, password):
        checked.append(hashed)
        return check_password_hash(hashed, password)

    client = create_predict(settings).server.test_client()
    monkeypatch.setattr(login, "check_password_hash", recording)
    assert client.get("/api/models", headers=_basic("mallory", "guess")).status_code == 401
    assert client.get("/api/models", headers=_basic("alice", "guess")).status_code == 401
    method = settings.users["alice"].split("$")[0]
    assert [hashed.split("$")[0] for hashed in checked] == [method, method]
    assert checked[0] != settings.users["alice"]


def test_failed_logins_are_rate_limited_per_user_and_address(settings):
    from core.web.login import FAILED_PER_USER

    client = create_predict(settings).server.test_client()
    for _ in range(15):  # a first visit without credentials is no failed login
        assert client.get("/api/models").status_code == 401
    allowed = int(FAILED_PER_USER.split()[0])
    statuses = [client.get("/api/models", headers=_basic("alice", "wrong")).status_code for _ in range(allowed + 1)]
    assert statuses == [401] * allowed + [429]
    refused = client.get("/api/models", headers=_basic("alice", "correct horse"))
    assert refused.status_code == 429 and refused.get_json()["error"].startswith("too many failed logins")
    assert client.get("/api/models", headers=_basic("bob", "x")).status_code == 401  # another name still counts apart
    assert client.get("/healthz").status_code in (200, 503)  # health checks are never limited
