"""The product as the PaaS runs it: the Procfile's web command, both apps, a real browser, a killed worker."""

import os
import re
import signal
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from core.store.examples import export_examples
from tests.conftest import combine_runs
from tests.support.bad_inputs import good_png
from tests.support.servers import browser_page, procfile_web, screenshot, worker_pids


@pytest.fixture(scope="module")
def deploy_root(tmp_path_factory, image_run, sound_run, run_ids):
    root = combine_runs(tmp_path_factory.mktemp("deploy"), (image_run, sound_run))
    for run_id in run_ids.values():
        export_examples(root, run_id, per_class=1)
    return root


def _choose_model(page, text):
    page.click("#model-select")
    page.get_by_role("option", name=re.compile(re.escape(text))).click()


def test_both_apps_in_a_real_browser_through_the_procfile(deploy_root):
    with procfile_web({"ARTIFACTS_DIR": str(deploy_root), "WEB_CONCURRENCY": "2"}) as (url, _), browser_page() as page:
        page.goto(url + "/")
        for model, example in (("custom_cnn · synthetic-audiograms", "synthetic-audiograms: normal"),
                               ("custom_cnn · synthetic-heart-sounds", "synthetic-heart-sounds: murmur")):
            _choose_model(page, model)
            page.get_by_role("button", name=example).click()
            page.wait_for_function(f"document.querySelector('.result-card')?.innerText.includes({model.split(' · ')[1]!r})", timeout=30_000)
        assert page.locator("audio").count() == 1  # the recording's player
        screenshot(page, "procfile_predict.png")

        page.goto(url + "/analytics/")
        page.wait_for_function("document.querySelector('#learning-curve-graph .js-plotly-plot')?.data?.length >= 2", timeout=30_000)
        screenshot(page, "procfile_analytics.png")


def test_a_killed_worker_is_replaced_and_leaves_no_partial_rows(deploy_root, run_ids):
    model = f"{run_ids['image']}/custom_cnn"
    env = {"ARTIFACTS_DIR": str(deploy_root), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2"}
    with procfile_web(env) as (url, master):
        outcomes, stop = [], threading.Event()

        def client():
            session = requests.Session()
            while not stop.is_set():
                try:
                    response = session.post(f"{url}/api/predict", files={"file": ("a.png", good_png())}, data={"model": model}, timeout=30)
                    outcomes.append(response.status_code)
                except requests.RequestException:
                    outcomes.append("dropped")

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        time.sleep(2)
        before = worker_pids(master.pid)
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = worker_pids(master.pid)
            if len(now) == len(before) and before[0] not in now:
                break
            time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not replace the killed worker within 60 s")
        time.sleep(1)
        stop.set()
        for thread in clients:
            thread.join()
        after = [requests.post(f"{url}/api/predict", files={"file": ("b.png", good_png())}, data={"model": model}, timeout=30).status_code
                 for _ in range(10)]
        assert after == [200] * 10
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200

    successes = outcomes.count(200) + len(after)
    assert set(outcomes) <= {200, "dropped", 500, 502}
    engine = create_engine(f"sqlite:///{deploy_root / 'audit.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, run_id, model, predicted, probabilities, content_sha256 FROM predictions")).all()
    assert all(all(value not in (None, "") for value in row) for row in rows)  # every row complete
    dropped = outcomes.count("dropped") + outcomes.count(500) + outcomes.count(502)
    assert successes <= len(rows) <= successes + dropped
