"""Security headers, same-origin writes and redacted messages, through a Flask server built by `build_server`."""

import pytest
from dash import Dash, html

from core.settings import Settings
from core.web.redact import redact
from core.web.security import script_hashes
from core.web.server import build_server, dash_options


@pytest.fixture
def app(tmp_path):
    server = build_server("security-test", Settings(artifacts_dir=tmp_path))

    @server.post("/echo")
    def echo():
        return "written"

    dash_app = Dash(__name__, server=server, **dash_options("Test", None))
    dash_app.layout = html.Div("hello")
    return dash_app


def test_every_answer_carries_the_security_headers_and_only_static_files_may_be_cached(app):
    client = app.server.test_client()
    page = client.get("/")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy and "unsafe-eval" not in policy
    assert (page.headers["X-Content-Type-Options"], page.headers["Referrer-Policy"]) == ("nosniff", "no-referrer")
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/_dash-layout").headers["Cache-Control"] == "no-store"
    script = next(line for line in page.get_data(as_text=True).split('"') if "_dash-component-suites" in line)
    assert "no-store" not in client.get(script).headers.get("Cache-Control", "")


def test_the_page_allows_exactly_dash_own_inline_scripts(app):
    page = app.server.test_client().get("/")
    allowed = page.headers["Content-Security-Policy"].split("script-src ")[1].split()
    assert sorted(allowed) == sorted(["'self'", *app.csp_hashes()])


def test_inline_script_hashes_skip_external_and_data_scripts():
    page = '<script src="/a.js"></script><script type="application/json">{}</script><script>run()</script>'
    assert len(script_hashes(page)) == 1


@pytest.mark.parametrize(
    "origin, status", [(None, 200), ("http://localhost", 200), ("http://evil.example", 403), ("null", 403)]
)
def test_a_write_from_another_origin_is_refused(app, origin, status):
    headers = {"Origin": origin} if origin else {}
    assert app.server.test_client().post("/echo", headers=headers).status_code == status


def test_a_read_from_another_origin_is_not_a_write(app):
    assert app.server.test_client().get("/", headers={"Origin": "http://evil.example"}).status_code == 200


@pytest.mark.parametrize(
    "message, shown",
    [
        ("cannot identify image file <_io.BytesIO object at 0x7f3a2b1c9d80>", "cannot identify image file the upload"),
        ("cannot open /tmp/pytest-7/artifacts/audit.db (locked)", "cannot open audit.db (locked)"),
        ("GET /api/models lists the available ones", "GET /api/models lists the available ones"),
        ("band 0.25-0.35, run 2024/model", "band 0.25-0.35, run 2024/model"),
    ],
)
def test_messages_lose_object_reprs_and_server_paths(message, shown):
    assert redact(message) == shown
