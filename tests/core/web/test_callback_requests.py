"""Dash callback requests the page could not have sent: 400 in one plain sentence, and the server serves on."""

import json

import pytest
import requests

from app_train_dashboard import ids
from app_train_dashboard.factory import create_app
from core.settings import Settings
from core.web.callback_requests import MALFORMED, UNKNOWN
from core.web.server import PAGE_BATCH_FILES
from tests.support.servers import gunicorn

CALLBACK = "/_dash-update-component"
COMPARE_OPTIONS = f"{ids.COMPARE_SELECT}.options"  # one output, two plain inputs: `selection.compare_choices`
UNKNOWN_OUTPUT = {"output": "no-such.children", "outputs": {"id": "no-such", "property": "children"}, "inputs": []}
MALFORMED_BODIES = {
    "empty object": "{}",
    "list": "[]",
    "null": "null",
    "not JSON": "{not json",
    "output not text": '{"output": 5, "inputs": []}',
    "inputs not a list": '{"output": "a.b", "inputs": "x"}',
    "unknown output": json.dumps(UNKNOWN_OUTPUT),
    "nested too deep": "[" * 100_000 + "]" * 100_000,
}


def _genuine(dependencies: list[dict], output: str) -> dict:
    """The body the page sends to run the callback of `output`, built from the app's `/_dash-dependencies`."""
    callback = next(d for d in dependencies if d["output"] == output)
    component, prop = output.rsplit(".", 1)
    return {
        "output": output,
        "outputs": {"id": component, "property": prop},
        "inputs": [{**i, "value": None} for i in callback["inputs"]],
        "state": [{**s, "value": None} for s in callback["state"]],
        "changedPropIds": [],
    }


def _assert_refused_in_words(answer: requests.Response) -> None:
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text in (MALFORMED, UNKNOWN)
    assert not any(leak in answer.text for leak in ("Traceback", "File ", "/", "0x", "Error"))


def test_both_apps_refuse_malformed_callback_requests_with_a_400_and_keep_serving(tmp_path):
    with gunicorn("wsgi:application", {"ARTIFACTS_DIR": str(tmp_path)}) as url:
        dashboard = f"{url}/analytics"
        good = _genuine(requests.get(f"{dashboard}/_dash-dependencies", timeout=30).json(), COMPARE_OPTIONS)
        wrong_inputs = {**good, "inputs": good["inputs"][:1]}
        for prefix in (url, dashboard):
            for body in [*MALFORMED_BODIES.values(), json.dumps(wrong_inputs)]:
                answer = requests.post(
                    prefix + CALLBACK, data=body, headers={"Content-Type": "application/json"}, timeout=30
                )
                _assert_refused_in_words(answer)
        answer = requests.post(dashboard + CALLBACK, json=good, timeout=30)
        assert answer.status_code == 200 and answer.json()["response"] == {ids.COMPARE_SELECT: {"options": []}}
        assert requests.get(url + "/", timeout=30).status_code == 200


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return create_app(Settings(artifacts_dir=tmp_path_factory.mktemp("empty"))).server.test_client()


@pytest.mark.parametrize("name", sorted(MALFORMED_BODIES))
def test_each_malformed_body_is_named_for_what_is_wrong(client, name):
    answer = client.post(CALLBACK, data=MALFORMED_BODIES[name], content_type="application/json")
    expected = UNKNOWN if name == "unknown output" else MALFORMED
    assert (answer.status_code, answer.get_data(as_text=True)) == (400, expected)


def test_a_page_batch_of_uploads_is_read_under_the_batch_limit_not_the_single_upload_one(client):
    settings = client.application.extensions["settings"]
    batch = {**UNKNOWN_OUTPUT, "padding": "x" * (settings.max_upload_bytes * PAGE_BATCH_FILES // 2)}
    answer = client.post(CALLBACK, data=json.dumps(batch), content_type="application/json")
    assert (answer.status_code, answer.get_data(as_text=True)) == (400, UNKNOWN)  # checked, not refused as 413
