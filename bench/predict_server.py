"""The prediction app under gunicorn: start-up to first answer, worker memory, server-side latency.

Usage:
    python -m bench.predict_server [--requests 200]

Trains the 128x128 demo custom CNN (as bench.serving does) into a temporary
ARTIFACTS_DIR, starts `gunicorn app_predict.app:server` with one worker, and
measures:

- start: from launching gunicorn to the first successful POST /api/predict;
- the worker's resident memory (VmRSS) after --requests predictions, and its peak (VmHWM);
- server-side time per single-image prediction (no heatmap), p50 and p95,
  from the app's own structured request log.

Writes bench/results/predict_server.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.results_io import save
from bench.serving import train_demo_run
from tests.support.servers import free_port, worker_pids


def _worker_memory_mb(master: int) -> dict[str, float]:
    status = Path(f"/proc/{worker_pids(master)[0]}/status").read_text().splitlines()
    values = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return {"rss_mb": round(values["VmRSS"], 1), "peak_mb": round(values["VmHWM"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    artifacts_dir, _, image = train_demo_run(Path(tempfile.mkdtemp(prefix="bench-predict-")))
    port = free_port()
    log_path = artifacts_dir / "server.log"
    env = {**os.environ, "ARTIFACTS_DIR": str(artifacts_dir)}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "app_predict.app:server",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "1",
        "--no-control-socket",
    ]
    data = Path(image).read_bytes()
    url = f"http://127.0.0.1:{port}/api/predict"
    with open(log_path, "w") as log_file:
        started = time.perf_counter()
        server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    if requests.post(url, files={"file": ("a.png", data)}, timeout=5).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.02)
            first_answer = time.perf_counter() - started
            for _ in range(args.requests):
                requests.post(url, files={"file": ("a.png", data)}, timeout=10).raise_for_status()
            memory = _worker_memory_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith('{"method"')]
    times = sorted(line["ms"] for line in lines if line["path"] == "/api/predict" and line["status"] == 200)[1:]
    save(
        "predict_server",
        {
            "start_to_first_answer_s": round(first_answer, 2),
            "worker_memory_after_requests": memory,
            "requests": len(times),
            "server_p50_ms": times[len(times) // 2],
            "server_p95_ms": times[int(len(times) * 0.95)],
        },
    )


if __name__ == "__main__":
    main()
