"""Where benchmark results go: one JSON file per benchmark under bench/results/ (not in git)."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, record: dict) -> Path:
    """Write `record` as bench/results/<name>.json and print it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, default=float))
    print(json.dumps(record, indent=2, default=float))
    return path
