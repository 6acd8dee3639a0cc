"""Dash Pages routing of the prediction app when several apps are built in one process (as wsgi.py and the tests do)."""

import json

from app_predict.factory import create_app
from core.settings import Settings


def _route(app, pathname: str) -> str:
    """What Dash Pages' router puts in the page container for `pathname` (as the browser sends it), as JSON text."""
    client = app.server.test_client()
    client.get("/_dash-layout")  # the router is set up on the first request
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:500]
    return json.dumps(response.get_json())


def test_each_app_routes_its_pages_and_links_them_under_its_own_prefix(predict_root):
    settings = Settings(artifacts_dir=predict_root)
    plain = create_app(settings)
    prefixed = create_app(settings, requests_pathname_prefix="/clinic/")
    for app, prefix in ((plain, "/"), (prefixed, "/clinic/")):
        layout = json.dumps(app.server.test_client().get("/_dash-layout").get_json())
        assert f'"href": "{prefix}audit"' in layout and f'"href": "{prefix}"' in layout
        assert '"id": "audit-table"' in _route(app, f"{prefix}audit")
        predict_page = _route(app, prefix)
        assert '"id": "upload"' in predict_page and "custom_cnn" in predict_page  # the model list, read on each visit
        assert "404 - Page not found" in _route(app, f"{prefix}nowhere")
    assert '"href": "/clinic/audit"' not in json.dumps(plain.server.test_client().get("/_dash-layout").get_json())
