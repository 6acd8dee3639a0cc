import csv
from datetime import datetime, timezone

import pytest

from core.store import artifacts


def test_append_rows_keeps_existing_rows_and_writes_the_header_once(tmp_path):
    path = tmp_path / "m.csv"
    artifacts.append_rows(path, [{"a": 1, "b": 2}], ["a", "b"])
    artifacts.append_rows(path, [{"a": 3, "b": 4, "extra": 9}, {"a": 5}], ["a", "b"])
    assert path.read_text() == "a,b\n1,2\n3,4\n5,\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "data.json"
    artifacts.write_json(path, {"v": 1})

    def crash(tmp):
        tmp.write_text('{"v": 2, "half')
        raise KeyboardInterrupt  # the process is killed mid-write

    with pytest.raises(KeyboardInterrupt):
        artifacts.atomic_write(path, crash)
    assert artifacts.read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_an_interrupted_append_leaves_earlier_runs_readable(tmp_path, monkeypatch):
    path = tmp_path / "training_metrics.csv"
    artifacts.append_rows(path, [{"run_id": "old", "epoch": 1}], artifacts.METRICS_COLUMNS)
    real_replace = artifacts.os.replace

    def killed(*args):
        raise SystemExit("killed")

    monkeypatch.setattr(artifacts.os, "replace", killed)
    with pytest.raises(SystemExit):
        artifacts.append_rows(path, [{"run_id": "new", "epoch": 1}], artifacts.METRICS_COLUMNS)
    monkeypatch.setattr(artifacts.os, "replace", real_replace)
    rows = list(csv.DictReader(path.open()))
    assert [row["run_id"] for row in rows] == ["old"]


def test_run_ids_sort_by_time_and_are_safe_folder_names():
    early = artifacts.new_run_id("Throat photos/v2", now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    late = artifacts.new_run_id("a", now=datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert early < late
    assert early.startswith("20260102-000000-throat-photos-v2-") and "/" not in early
