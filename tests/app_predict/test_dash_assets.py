"""A script path Dash does not serve is a 404, never a 500 with a traceback in the log."""

import logging

import pytest

from app_predict.factory import create_app
from core.settings import Settings


@pytest.mark.parametrize("path", ["/_dash-component-suites/nope/x.js", "/_dash-component-suites/dash/..%2f..%2fx"])
def test_an_unknown_dash_asset_is_not_found(tmp_path, caplog, path):
    client = create_app(Settings(artifacts_dir=tmp_path)).server.test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get(path)
    assert response.status_code == 404 and "Traceback" not in caplog.text
