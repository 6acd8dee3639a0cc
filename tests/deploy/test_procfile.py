"""The product as the PaaS runs it: the Procfile's web command, both apps, a real browser, a killed worker.

One instance serves the module (each start and stop costs seconds): the browser goes first, then a worker is
killed under load; whichever runs first, the other's invariants hold.
"""

import os
import re
import signal
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from core.store.examples import export_examples
from tests.conftest import combine_runs, promote_newest_best
from tests.support.bad_inputs import good_png
from tests.support.servers import browser_page, procfile_web, screenshot, worker_pids


@pytest.fixture(scope="module")
def deploy_root(tmp_path_factory, image_run, sound_run, run_ids):
    root = combine_runs(tmp_path_factory.mktemp("deploy"), (image_run, sound_run))
    for run_id in run_ids.values():
        export_examples(root, run_id, per_class=1)
    promote_newest_best(root)
    return root


@pytest.fixture(scope="module")
def web(deploy_root):
    """(URL, master) of the Procfile's web command: two workers of two threads each."""
    env = {"ARTIFACTS_DIR": str(deploy_root), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2"}
    with procfile_web(env) as served:
        yield served


def _choose_model(page, text):
    page.click("#model-select")
    page.get_by_role("option", name=re.compile(re.escape(text))).click()


def test_both_apps_in_a_real_browser_through_the_procfile_under_their_security_policy(web):
    """Pages render and callbacks run in both apps, and Chromium reports nothing blocked by the CSP.

    Chromium logs every blocked script, style, image or `eval` ("Refused to ... Content Security
    Policy"). Waits use arrow functions: the policy refuses `eval`, which Playwright uses for a bare expression.
    """
    url, _ = web
    with browser_page() as page:
        console = []
        page.on("console", lambda message: console.append(message.text))
        response = page.goto(url + "/")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        for model, example in (
            ("custom_cnn · synthetic-audiograms", "synthetic-audiograms: normal"),
            ("custom_cnn · synthetic-heart-sounds", "synthetic-heart-sounds: murmur"),
        ):
            _choose_model(page, model)
            page.get_by_role("button", name=example).click()
            page.wait_for_function(
                f"() => document.querySelector('.result-card')?.innerText.includes({model.split(' · ')[1]!r})",
                timeout=30_000,
            )
        assert page.locator("audio").count() == 1  # the recording's player, which Chromium can play (>= 3 kHz)
        page.wait_for_function(
            "() => { const a = document.querySelector('audio'); return a.readyState >= 1 && a.duration > 0; }",
            timeout=15_000,
        )
        screenshot(page, "procfile_predict.png")

        page.goto(url + "/analytics/")
        page.wait_for_function(
            "() => document.querySelector('#learning-curve-graph .js-plotly-plot')?.data?.length >= 2", timeout=30_000
        )
        screenshot(page, "procfile_analytics.png")
    assert not [text for text in console if "Content Security Policy" in text], console


KILL_CASE = "killed-worker-test"
COLUMNS = ("id", "run_id", "model", "predicted", "probabilities", "content_sha256", "case_ref")


def _post_prediction(session, url: str, model: str) -> tuple[int | str, str | None]:
    """(status or "dropped", the recorded prediction's id when answered 200) of one upload tagged with KILL_CASE."""
    try:
        response = session.post(
            f"{url}/api/predict",
            files={"file": ("a.png", good_png())},
            data={"model": model, "case_ref": KILL_CASE},
            timeout=30,
        )
    except requests.RequestException:
        return "dropped", None
    return response.status_code, response.json()["id"] if response.status_code == 200 else None


def _kill_a_worker_and_wait_for_its_replacement(master: int) -> None:
    before = worker_pids(master)
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = worker_pids(master)
        if len(now) == len(before) and before[0] not in now:
            return
        time.sleep(0.2)
    pytest.fail("gunicorn did not replace the killed worker within 60 s")


def _rows(root) -> dict[str, tuple]:
    engine = create_engine(f"sqlite:///{root / 'audit.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT {', '.join(COLUMNS)} FROM predictions")).all()
    return {row[0]: tuple(row) for row in rows}


def test_a_killed_worker_is_replaced_and_leaves_no_partial_rows(web, deploy_root, run_ids):
    """Invariants that hold however the kill falls (after a commit but before its answer, or mid-request).

    Every answered prediction has its complete row; no row anywhere is partial;
    and the rows this test caused are at most the requests it sent (a request
    answered by no one may or may not have been recorded).
    """
    model, (url, master) = f"{run_ids['image']}/custom_cnn", web
    outcomes, stop = [], threading.Event()

    def client():
        session = requests.Session()
        while not stop.is_set():
            outcomes.append(_post_prediction(session, url, model))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    time.sleep(2)
    _kill_a_worker_and_wait_for_its_replacement(master.pid)
    time.sleep(1)
    stop.set()
    for thread in clients:
        thread.join()
    fresh = requests.Session()
    after = [_post_prediction(fresh, url, model) for _ in range(10)]
    assert [status for status, _ in after] == [200] * 10
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200

    sent = outcomes + after
    assert {status for status, _ in sent} <= {200, "dropped", 500, 502}
    answered = [prediction_id for status, prediction_id in sent if status == 200]
    rows = _rows(deploy_root)
    assert len(set(answered)) == len(answered) and set(answered) <= set(rows)  # every answer has its row
    assert all(all(value not in (None, "") for value in row[:-1]) for row in rows.values())  # no partial row at all
    assert sum(row[-1] == KILL_CASE for row in rows.values()) <= len(sent)
