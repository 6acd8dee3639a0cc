"""Load test of the Procfile's web command on localhost: concurrent clients posting images to /api/predict.

Usage:
    python -m bench.load_test [--clients 8] [--seconds 60] [--workers 2] [--threads 4]

Trains the 128x128 demo custom CNN (as bench.serving does), starts the
Procfile `web:` command exactly as the platform would (PORT, WEB_CONCURRENCY,
GUNICORN_THREADS), and runs --clients client threads, each posting a 512x512
chart PNG in a loop for --seconds (a bounded number of requests on loopback
only). Reports throughput, latency percentiles, errors, and each worker's
resident memory at the start and the end. Writes bench/results/load_test.json.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

from bench.results_io import save
from bench.serving import train_demo_run
from tests.support.servers import procfile_web, worker_pids


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _hammer(url: str, data: bytes, *, clients: int, seconds: float) -> tuple[list[float], list[str], float]:
    """`clients` threads posting `data` for `seconds`: (latencies of answered requests, failures, duration)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                response = session.post(f"{url}/api/predict", files={"file": ("chart.png", data)}, timeout=30)
                failure = None if response.status_code == 200 else f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                failure = type(exc).__name__
            elapsed = time.perf_counter() - began
            with lock:
                (errors.append(failure) if failure else latencies.append(elapsed))

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def _summary(latencies: list[float], errors: list[str], duration: float, memory_start: dict, memory_end: dict) -> dict:
    """Throughput, latency percentiles, errors and worker memory, as bench/results/load_test.json records them."""
    times = np.array(latencies) * 1000
    growth = {
        str(pid): round((memory_end[pid] - memory_start[pid]) / memory_start[pid] * 100, 1)
        for pid in memory_start
        if pid in memory_end
    }
    return {
        "seconds": round(duration, 1),
        "predictions": len(latencies),
        "throughput_per_s": round(len(latencies) / duration, 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "latency_ms": {p: round(float(np.percentile(times, q)), 1) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "worker_rss_mb_start": {str(k): round(v, 1) for k, v in memory_start.items()},
        "worker_rss_mb_end": {str(k): round(v, 1) for k, v in memory_end.items()},
        "worker_memory_growth_percent": growth,
        "workers_replaced": sorted(set(memory_start) ^ set(memory_end)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    artifacts_dir, _, image = train_demo_run(Path(tempfile.mkdtemp(prefix="bench-load-")))
    data = Path(image).read_bytes()
    env = {
        "ARTIFACTS_DIR": str(artifacts_dir),
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
    }
    with procfile_web(env) as (url, master):
        for _ in range(20):  # every worker loads the model and answers once before measuring
            requests.post(f"{url}/api/predict", files={"file": ("chart.png", data)}, timeout=30).raise_for_status()
        memory_start = {pid: _rss_mb(pid) for pid in worker_pids(master.pid)}
        latencies, errors, duration = _hammer(url, data, clients=args.clients, seconds=args.seconds)
        memory_end = {pid: _rss_mb(pid) for pid in worker_pids(master.pid)}
    record = {"clients": args.clients, "workers": args.workers, "threads_per_worker": args.threads}
    save("load_test", {**record, **_summary(latencies, errors, duration, memory_start, memory_end)})


if __name__ == "__main__":
    main()
