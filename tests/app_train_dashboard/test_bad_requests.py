"""Requests the dashboard's page never sends get a short 4xx, never a 500 with a traceback in the log."""

import pytest

from app_train_dashboard.factory import create_app
from core.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return create_app(Settings(artifacts_dir=tmp_path_factory.mktemp("empty"))).server.test_client()


@pytest.mark.parametrize("path", ["/_dash-component-suites/nope/x.js", "/_dash-component-suites/dash/..%2f..%2fx"])
def test_a_script_dash_does_not_serve_is_a_plain_404(client, path):
    answer = client.get(path)
    assert (answer.status_code, answer.get_data(as_text=True)) == (404, "Not found.")
