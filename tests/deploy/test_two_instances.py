"""Two instances of the product sharing one PostgreSQL database and one ARTIFACTS_DIR (issue 10).

Each instance runs the Procfile's web command with two workers. What is
served is rows of the shared database, read on every request, so a change
made through the command line or through one instance is served by every
worker of both instances on its next request, with no restart and no wait.

Which worker answered is read from /proc: a keep-alive connection stays with
the worker that accepted it, so new connections are opened until every
worker of an instance has answered every request.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from urllib3 import encode_multipart_formdata

from core.settings import Settings
from core.store.database import open_database
from core.store.registry import promote
from core.store.serving_state import ServingState
from tests.conftest import combine_runs
from tests.support.postgres import postgres_cluster, unavailable
from tests.support.servers import ROOT, connection_worker, procfile_web, worker_pids

WORKERS = 2
REQUESTS = ("champion", "models", "predict")
POSTGRES_MISSING = unavailable()
pytestmark = pytest.mark.skipif(POSTGRES_MISSING is not None, reason=str(POSTGRES_MISSING))  # before training a run
ANSWER_WITHIN = 90  # seconds, per instance and check: a bound on a loop that ends once every worker has answered


@dataclass(frozen=True)
class Instance:
    """One running instance: its name in messages, its port, and its gunicorn master's pid."""

    name: str
    port: int
    master: int


@pytest.fixture(scope="module")
def shared(tmp_path_factory, sound_run):
    """(environment naming the shared database and folder, run id); the run's mobilenet_v2 is the champion.

    The heart-sound run has two classes, so its operating points have a threshold.
    """
    root = combine_runs(tmp_path_factory.mktemp("two-instances"), (sound_run,))
    with postgres_cluster() as url:
        state = ServingState(open_database(Settings(database_url=url).audit_database_url))
        promote(root, state, sound_run[1], "mobilenet_v2", reason="first champion", user="tests", force=True)
        state.engine.dispose()
        yield {"ARTIFACTS_DIR": str(root), "DATABASE_URL": url}, sound_run[1]


@pytest.fixture(scope="module")
def recording(demo_folders) -> bytes:
    return sorted((demo_folders["heart_sounds"] / "normal").glob("*.wav"))[0].read_bytes()


def _cli(env: dict[str, str], *args: str) -> str:
    """`python -m core ARGS` against the shared database and folder; its output, having checked it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _json(connection: http.client.HTTPConnection, method: str, path: str, **request) -> dict:
    """The JSON answer of one request on `connection`, having checked it is a 200."""
    connection.request(method, path, **request)
    response = connection.getresponse()
    payload = json.loads(response.read())
    assert response.status == 200, (path, payload)
    return payload


def _ask(connection: http.client.HTTPConnection, name: str, recording: bytes) -> dict:
    """GET /api/champion, GET /api/models, or POST /api/predict with no model (the champion answers)."""
    if name != "predict":
        return _json(connection, "GET", f"/api/{name}")
    body, content_type = encode_multipart_formdata({"file": ("beat.wav", recording)})
    return _json(connection, "POST", "/api/predict", body=body, headers={"Content-Type": content_type})


def _one_connection(instance: Instance, recording: bytes) -> dict:
    """REQUESTS asked on one keep-alive connection: {name: answer, "workers": the workers that held it}."""
    connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=60)
    view, workers = {}, set()
    try:
        for name in REQUESTS:
            view[name] = _ask(connection, name, recording)
            workers.add(connection_worker(instance.master, instance.port, connection.sock.getsockname()[1]))
    finally:
        connection.close()
    return {**view, "workers": workers}


def _every_worker(instance: Instance, recording: bytes) -> list[dict]:
    """What the instance answers on fresh connections, asked until each of its workers has answered all REQUESTS."""
    workers, views, deadline = set(worker_pids(instance.master)), [], time.monotonic() + ANSWER_WITHIN
    assert len(workers) == WORKERS
    while time.monotonic() < deadline:
        views.append(_one_connection(instance, recording))
        if workers <= {next(iter(view["workers"])) for view in views if len(view["workers"]) == 1}:
            return views
    pytest.fail(f"{instance.name}: not every worker of {sorted(workers)} answered within {ANSWER_WITHIN} s")


def _assert_served(instances: list[Instance], recording: bytes, run: str, model: str) -> list[dict]:
    """Every worker of every instance serves run/model as the champion; returns every answer for further checks."""
    views = [view for instance in instances for view in _every_worker(instance, recording)]
    for view in views:
        champion = view["champion"]["champion"]
        assert (champion["run_id"], champion["model"]) == (run, model)
        assert (view["models"]["champion"]["run_id"], view["models"]["champion"]["model"]) == (run, model)
        assert [entry["key"] for entry in view["models"]["models"] if entry["champion"]] == [f"{run}/{model}"]
        assert (view["predict"]["run"], view["predict"]["model"]) == (run, model)
    return views


@contextlib.contextmanager
def _instance(name: str, env: dict[str, str]) -> Iterator[Instance]:
    """The Procfile's web command with WORKERS workers on the shared database and folder."""
    with procfile_web({**env, "WEB_CONCURRENCY": str(WORKERS)}) as (url, master):
        yield Instance(name, int(url.rsplit(":", 1)[1]), master.pid)


@pytest.fixture(scope="module")
def instances(shared):
    env, _ = shared
    with _instance("A", env) as a, _instance("B", env) as b:
        yield [a, b]
        for instance in (a, b):  # both shut down at once; each context then waits for its own
            os.kill(instance.master, signal.SIGTERM)


def test_changes_of_serving_state_reach_every_worker_of_both_instances(shared, instances, recording):
    env, run = shared
    workers = [set(worker_pids(instance.master)) for instance in instances]
    before = _assert_served(instances, recording, run, "mobilenet_v2")  # every worker has loaded the first champion
    fitted = {_operating_point(view["predict"]) for view in before}
    assert len(fitted) == 1 and next(iter(fitted))[2] == 0  # one operating point everywhere: the run's fitted one

    # Tiny runs fail the guardrails, so the promotion is forced (and recorded as such).
    assert f"champion is now {run}/custom_cnn" in _cli(
        env, "promote", run, "custom_cnn", "--reason", "better on the pilot", "--force"
    )
    promoted = _assert_served(instances, recording, run, "custom_cnn")
    assert {view["predict"]["operating_point_version"] for view in promoted} == {0}

    # Threshold 0: every recording is called the positive class; band [0, 1]: every one is referred for review.
    a, b = instances
    saved = _save_operating_point(a, run, threshold=0.0, band=[0.0, 1.0])
    assert saved["version"] == 1
    for view in _assert_served([b, a], recording, run, "custom_cnn"):
        assert _operating_point(view["predict"]) == (0.0, (0.0, 1.0), 1)
        assert view["predict"]["class"] == "murmur" and view["predict"]["uncertain"] is True

    assert f"champion is now {run}/mobilenet_v2 again" in _cli(env, "rollback", "--reason", "worse in clinic")
    for view in _assert_served(instances, recording, run, "mobilenet_v2"):
        assert {_operating_point(view["predict"])} == fitted
        reasons = [row["reason"] for row in view["champion"]["history"]]
        assert reasons == ["worse in clinic", "better on the pilot", "first champion"]
    assert [set(worker_pids(instance.master)) for instance in instances] == workers  # no worker was restarted


def _operating_point(prediction: dict) -> tuple:
    """(threshold, review band, version) that decided a prediction."""
    return prediction["threshold"], tuple(prediction["review_band"]), prediction["operating_point_version"]


def _save_operating_point(instance: Instance, run: str, *, threshold: float, band: list[float]) -> dict:
    """POST /api/operating-points on `instance` for run/custom_cnn; the saved version."""
    body = {"run": run, "model": "custom_cnn", "threshold": threshold, "band": band, "note": "two-instance test"}
    connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=60)
    try:
        return _json(
            connection,
            "POST",
            "/api/operating-points",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
    finally:
        connection.close()
