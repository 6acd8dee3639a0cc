import csv

import numpy as np
import pandas as pd
import pytest

from core.store import artifacts
from core.store.run_writer import METRICS_COLUMNS


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
    artifacts.append_rows(path, [{"run_id": "old", "epoch": 1}], METRICS_COLUMNS)
    real_replace = artifacts.os.replace

    def killed(*args):
        raise SystemExit("killed")

    monkeypatch.setattr(artifacts.os, "replace", killed)
    with pytest.raises(SystemExit):
        artifacts.append_rows(path, [{"run_id": "new", "epoch": 1}], METRICS_COLUMNS)
    monkeypatch.setattr(artifacts.os, "replace", real_replace)
    rows = list(csv.DictReader(path.open()))
    assert [row["run_id"] for row in rows] == ["old"]


def test_the_temporary_file_keeps_the_suffix_writers_like_keras_insist_on(tmp_path):
    seen = []

    def keras_like(tmp):
        seen.append(tmp)
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path and tmp.name.startswith(".model.")
        tmp.write_bytes(b"zip")

    artifacts.atomic_write(tmp_path / "model.keras", keras_like)
    assert (tmp_path / "model.keras").read_bytes() == b"zip"
    assert not seen[0].exists() and [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_bytes_text_json_and_csv_round_trip(tmp_path):
    artifacts.write_bytes(tmp_path / "a" / "b.png", b"\x89PNG")
    artifacts.write_json(tmp_path / "c.json", {"n": np.int64(3), "path": tmp_path})
    artifacts.write_csv(tmp_path / "d.csv", pd.DataFrame({"x": [1, 2]}))
    assert (tmp_path / "a" / "b.png").read_bytes() == b"\x89PNG"
    assert artifacts.read_json(tmp_path / "c.json") == {"n": 3, "path": str(tmp_path)}
    assert (tmp_path / "d.csv").read_text() == "x\n1\n2\n"
