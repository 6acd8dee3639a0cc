"""Slow clients cannot starve the others: eight trickling connections while health checks and predictions answer."""

import socket
import threading
import time

import pytest
import requests

from tests.conftest import combine_runs, promote_newest_best
from tests.support.bad_inputs import good_png
from tests.support.servers import procfile_web

SLOW_CLIENTS = 8
TRICKLE_SECONDS = 30.0  # hard bound on each slow client; the answers must come before they finish
SLOW_REQUESTS = (
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200,  # headers that never end in time
    b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n" + b"b" * 200,  # a slow body
)


@pytest.fixture(scope="module")
def slow_root(tmp_path_factory, image_run):
    root = combine_runs(tmp_path_factory.mktemp("slow"), (image_run,))
    promote_newest_best(root)
    return root


def _trickle(url: str, request: bytes, stop: threading.Event) -> None:
    """Send `request` one byte every 0.5 s until `stop` or TRICKLE_SECONDS, whichever comes first."""
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + TRICKLE_SECONDS
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        for byte in request:
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return  # the server gave up on this client: allowed
            stop.wait(0.5)


def test_health_and_predictions_answer_while_eight_clients_trickle(slow_root):
    env = {"ARTIFACTS_DIR": str(slow_root), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2"}
    with procfile_web(env) as (url, _):
        stop = threading.Event()
        slow = [
            threading.Thread(target=_trickle, args=(url, SLOW_REQUESTS[i % 2], stop), daemon=True)
            for i in range(SLOW_CLIENTS)
        ]
        try:
            for thread in slow:
                thread.start()
            time.sleep(2)  # every slow client connected and sending, more of them than the worker's 2 threads
            health = requests.get(f"{url}/healthz", timeout=TRICKLE_SECONDS - 5)
            predicted = requests.post(f"{url}/api/predict", files={"file": ("a.png", good_png())}, timeout=20)
            trickling = sum(thread.is_alive() for thread in slow)
        finally:
            stop.set()
            for thread in slow:
                thread.join(timeout=10)
    assert health.status_code == 200 and predicted.status_code == 200, (health.text, predicted.text)
    assert trickling == SLOW_CLIENTS  # they answered while every slow client was still sending
