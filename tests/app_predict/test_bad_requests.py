"""Bad requests through a real gunicorn server: wrong routes, methods, bodies, fields, parameters, origins and sizes.

Every case must get a 4xx JSON answer with a reason, never a 5xx, a
traceback, an object repr or a server path; none may leave a prediction row;
the server stays healthy. Bad upload files are in `tests.support.bad_inputs`
and `test_api.py`; these cases are about the shape of the request.
"""

from __future__ import annotations

import re
import sys
import tempfile

import pytest
import requests

from tests.support.bad_inputs import good_png
from tests.support.servers import ROOT

EVIL = {"Origin": "http://evil.example"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LEAKS = re.compile(r"Traceback|object at 0x|0x[0-9a-f]{8,}")


def _png(name: str = "scan.png") -> dict:
    return {"file": (name, good_png(), "image/png")}


def _feedback(**body) -> dict:
    return {"json": {"prediction_id": "{id}", "verdict": "confirmed", **body}}


ROUTES = [
    ("get-predict", "GET", "/api/predict", {}, 405),
    ("get-feedback", "GET", "/api/feedback", {}, 405),
    ("put-predict", "PUT", "/api/predict", {}, 405),
    ("delete-feedback", "DELETE", "/api/feedback", {}, 405),
    ("patch-champion", "PATCH", "/api/champion", {}, 405),
    ("get-rollback", "GET", "/api/champion/rollback", {}, 405),
    ("delete-predictions", "DELETE", "/api/predictions", {}, 405),
    ("post-models", "POST", "/api/models", {"json": {}}, 405),
    ("post-healthz", "POST", "/healthz", {"json": {}}, 405),
    ("unknown-route", "GET", "/api/nosuch", {}, 404),
    ("unknown-route-post", "POST", "/api/nosuch", {"json": {}}, 404),
    ("api-root", "GET", "/api/", {}, 404),
    ("route-suffix", "GET", "/api/predict/extra", {}, 404),
    ("route-case", "GET", "/api/PREDICT", {}, 404),
    ("route-nul", "GET", "/api/%00", {}, 404),
    ("route-dots", "GET", "/api/..%2Fetc%2Fpasswd", {}, 404),
]
PREDICT = [
    ("no-body", {}, 400),
    ("no-file", {"data": {"model": "{image}"}}, 400),
    ("wrong-field", {"files": {"upload": ("a.png", b"x")}}, 400),
    ("two-files", {"files": [("file", ("a.png", b"x")), ("file", ("b.png", b"y"))]}, 422),
    ("json-body", {"json": {"file": "aGVsbG8="}}, 400),
    ("broken-multipart", {"data": b"--x\r\nnot a part", "headers": {"Content-Type": "multipart/form-data"}}, 400),
    ("unknown-model", {"files": _png(), "data": {"model": "nope/custom_cnn"}}, 404),
    ("model-nul", {"files": _png(), "data": {"model": "run\x00/custom_cnn"}}, 422),
    ("model-long", {"files": _png(), "data": {"model": "m" * 1000}}, 422),
    ("case-ref-long", {"files": _png(), "data": {"model": "{image}", "case_ref": "C" * 300}}, 422),
    ("case-ref-nul", {"files": _png(), "data": {"model": "{image}", "case_ref": "C-1\x00"}}, 422),
    ("case-ref-newline", {"files": _png(), "data": {"model": "{image}", "case_ref": "C-1\nC-2"}}, 422),
    ("filename-control", {"files": _png("scan\x07.png"), "data": {"model": "{image}"}}, 422),
    ("filename-long", {"files": _png("s" * 600 + ".png"), "data": {"model": "{image}"}}, 422),
    ("unknown-field", {"files": _png(), "data": {"model": "{image}", "modle": "x"}}, 422),
    ("repeated-field", {"files": _png(), "data": [("model", "{image}"), ("case_ref", "a"), ("case_ref", "b")]}, 422),
    ("empty-file", {"files": {"file": ("a.png", b"")}, "data": {"model": "{image}"}}, 400),
    ("text-file", {"files": {"file": ("a.png", b"notes " * 50)}, "data": {"model": "{image}"}}, 415),
    ("wrong-modality", {"files": _png(), "data": {"model": "{sound}"}}, 415),
    ("too-large", {"files": {"file": ("big.png", b"\0" * 25_000_000)}, "data": {"model": "{image}"}}, 413),
    ("cross-site", {"files": _png(), "data": {"model": "{image}"}, "headers": EVIL}, 403),
    ("null-origin", {"files": _png(), "data": {"model": "{image}"}, "headers": {"Origin": "null"}}, 403),
]
FEEDBACK = [
    ("form-encoded", {"data": "prediction_id={id}&verdict=confirmed", "headers": FORM}, 415),
    ("text-plain", {"data": '{"prediction_id": "{id}"}', "headers": {"Content-Type": "text/plain"}}, 415),
    ("no-content-type", {"data": b'{"prediction_id": "x", "verdict": "confirmed"}'}, 415),
    ("invalid-json", {"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ("json-list", {"json": [1, 2]}, 400),
    ("json-string", {"json": "confirmed"}, 400),
    ("json-number", {"json": 42}, 400),
    ("json-null", {"data": "null", "headers": {"Content-Type": "application/json"}}, 400),
    ("empty-object", {"json": {}}, 422),
    ("id-number", {"json": {"prediction_id": 7, "verdict": "confirmed"}}, 422),
    ("id-list", {"json": {"prediction_id": ["a"], "verdict": "confirmed"}}, 422),
    ("id-unknown", {"json": {"prediction_id": "0" * 32, "verdict": "confirmed"}}, 404),
    ("id-nul", {"json": {"prediction_id": "ab\x00", "verdict": "confirmed"}}, 422),
    ("id-long", {"json": {"prediction_id": "a" * 65, "verdict": "confirmed"}}, 422),
    ("verdict-unknown", _feedback(verdict="maybe"), 422),
    ("verdict-number", _feedback(verdict=1), 422),
    ("override-without-label", _feedback(verdict="overridden"), 422),
    ("label-not-a-class", _feedback(verdict="overridden", correct_label="healthy"), 422),
    ("label-list", _feedback(verdict="overridden", correct_label=["normal"]), 422),
    ("label-nul", _feedback(verdict="overridden", correct_label="normal\x00"), 422),
    ("comment-5mb", _feedback(comment="x" * 5_000_000), 422),
    ("comment-nul", _feedback(comment="seen\x00"), 422),
    ("comment-object", _feedback(comment={"text": "x"}), 422),
    ("unknown-field", _feedback(verdit="confirmed"), 422),
    ("cross-site-json", {**_feedback(), "headers": EVIL}, 403),
    ("cross-site-form", {"data": "prediction_id={id}&verdict=confirmed", "headers": {**FORM, **EVIL}}, 403),
    ("other-port", {**_feedback(), "headers": {"Origin": "http://127.0.0.1:1"}}, 403),
]
QUERIES = [
    ("limit-text", {"limit": "x"}),
    ("limit-exponent", {"limit": "1e3"}),
    ("limit-negative", {"limit": "-1"}),
    ("limit-zero", {"limit": "0"}),
    ("limit-over-cap", {"limit": "5001"}),
    ("limit-decimal", {"limit": "1.5"}),
    ("limit-huge", {"limit": "9" * 40}),
    ("offset-negative", {"offset": "-3"}),
    ("uncertain-maybe", {"uncertain": "maybe"}),
    ("feedback-maybe", {"feedback": "maybe"}),
    ("format-xml", {"format": "xml"}),
    ("misspelt", {"limt": "3"}),
    ("repeated", [("limit", "1"), ("limit", "2")]),
    ("model-nul", {"model": "custom\x00cnn"}),
    ("case-ref-long", {"case_ref": "C" * 500}),
    ("case-ref-nul", {"case_ref": "\x00"}),
]
STATE = [
    ("champion-form", "/api/champion", {"data": "run=a&model=b&reason=c", "headers": FORM}, 415),
    ("operating-point-text", "/api/operating-points", {"data": "{}", "headers": {"Content-Type": "text/plain"}}, 415),
    ("champion-cross-site", "/api/champion", {"json": {"run": "a"}, "headers": EVIL}, 403),
    ("rollback-cross-site", "/api/champion/rollback", {"json": {"reason": "r"}, "headers": EVIL}, 403),
    ("operating-point-cross-site", "/api/operating-points", {"json": {}, "headers": EVIL}, 403),
]
CASES = (
    [pytest.param(m, p, kw, s, id=f"route-{name}") for name, m, p, kw, s in ROUTES]
    + [pytest.param("POST", "/api/predict", kw, s, id=f"predict-{name}") for name, kw, s in PREDICT]
    + [pytest.param("POST", "/api/feedback", kw, s, id=f"feedback-{name}") for name, kw, s in FEEDBACK]
    + [pytest.param("GET", "/api/predictions", {"params": q}, 422, id=f"query-{name}") for name, q in QUERIES]
    + [pytest.param("POST", p, kw, s, id=f"state-{name}") for name, p, kw, s in STATE]
)
SERVER_PATHS = [str(ROOT), tempfile.gettempdir() + "/", sys.prefix]


@pytest.fixture(scope="module")
def served(server, model_keys):
    """The module's server, its model keys and one recorded prediction to send feedback on."""
    response = requests.post(
        f"{server}/api/predict", files=_png(), data={"model": model_keys["image"]}, timeout=60
    ).json()
    values = {"id": response["id"], "image": model_keys["image"], "sound": model_keys["sound"]}
    yield server, values
    row = requests.get(f"{server}/api/predictions", params={"limit": 5000}, timeout=10).json()["predictions"]
    assert next(r for r in row if r["id"] == values["id"])["feedback"] is None  # no bad feedback was recorded


def _fill(value, values: dict):
    """`value` with "{id}", "{image}", "{sound}" replaced in its strings, lists, tuples and dicts."""
    if isinstance(value, str):
        return (
            value.replace("{id}", values["id"]).replace("{image}", values["image"]).replace("{sound}", values["sound"])
        )
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_fill(v, values) for v in value)
    return value


def _rows(url: str) -> int:
    return len(requests.get(f"{url}/api/predictions", params={"limit": 5000}, timeout=10).json()["predictions"])


@pytest.mark.parametrize("method, path, options, status", CASES)
def test_a_bad_request_gets_a_clear_4xx_json_answer_and_changes_nothing(served, method, path, options, status):
    url, values = served
    before = _rows(url)
    response = requests.request(method, url + path, timeout=60, **_fill(options, values))
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert len(error) > 10 and not LEAKS.search(response.text), error
    assert not any(root in response.text for root in SERVER_PATHS), error
    assert _rows(url) == before  # no prediction was recorded
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60
