"""Worker memory with and without gunicorn's preload_app, for the Procfile's web command.

Usage:
    python -m bench.preload [--workers 2] [--requests 50]

For each setting, starts the web command (GUNICORN_PRELOAD=true/false),
sends --requests image predictions, and reads every process's resident
memory (RSS) and proportional set size (PSS: shared pages split between the
processes sharing them) from /proc. PSS summed over master and workers is
what the machine really spends. Writes bench/results/preload.json.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import requests

from bench.results_io import save
from bench.serving import train_demo_run
from tests.support.servers import procfile_web, worker_pids


def _memory_mb(pid: int) -> dict[str, float]:
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("Rss", "Pss"):
            values[key.lower()] = int(line.split()[1]) / 1024
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    artifacts_dir, _, image = train_demo_run(Path(tempfile.mkdtemp(prefix="bench-preload-")))
    data = Path(image).read_bytes()
    record = {"workers": args.workers}
    for preload in ("true", "false"):
        env = {"ARTIFACTS_DIR": str(artifacts_dir), "WEB_CONCURRENCY": str(args.workers), "GUNICORN_PRELOAD": preload}
        with procfile_web(env) as (url, master):
            for _ in range(args.requests):
                requests.post(f"{url}/api/predict", files={"file": ("chart.png", data)}, timeout=30).raise_for_status()
            processes = {"master": _memory_mb(master.pid)}
            processes.update({f"worker_{i}": _memory_mb(pid) for i, pid in enumerate(worker_pids(master.pid))})
        record[f"preload_{preload}"] = {
            "processes": {name: {k: round(v, 1) for k, v in m.items()} for name, m in processes.items()},
            "total_pss_mb": round(sum(m["pss"] for m in processes.values()), 1),
            "total_rss_mb": round(sum(m["rss"] for m in processes.values()), 1),
        }
    save("preload", record)


if __name__ == "__main__":
    main()
