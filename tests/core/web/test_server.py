"""The Flask server both apps are built on: request bodies it cannot read are a 400, never a 500."""

from flask import request

from core.settings import Settings
from core.web.server import build_server

DEEP = "[" * 100_000 + "]" * 100_000  # deeper than Python's JSON parser goes


def test_json_nested_too_deeply_to_parse_is_a_400_not_a_500(tmp_path):
    server = build_server("json-test", Settings(artifacts_dir=tmp_path))

    @server.post("/read")
    def read():
        return {"silent": request.get_json(silent=True), "kind": type(request.get_json()).__name__}

    client = server.test_client()
    assert client.post("/read", data=DEEP, content_type="application/json").status_code == 400
    assert client.post("/read", data="[[1]]", content_type="application/json").json == {"silent": [[1]], "kind": "list"}
