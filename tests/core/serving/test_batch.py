"""Batch prediction (`predict --folder/--manifest --out`): the app's checks, one row per file, resumable."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def sound_artifacts(sound_run, tmp_path) -> tuple[Path, str]:
    """A private copy of the tiny heart-sound run (the batch may write its database beside it)."""
    artifacts_dir, run_id, _ = sound_run
    copy = tmp_path / "artifacts"
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(copy).run(run_id).dir)
    return copy, run_id


@pytest.fixture
def archive(demo_folders, tmp_path) -> Path:
    """Heart sounds in sub-folders, with a silent recording, a chart (wrong modality) and a note (not an input)."""
    folder = tmp_path / "archive"
    shutil.copytree(demo_folders["heart_sounds"], folder)
    with wave.open(str(folder / "silent.wav"), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(4000)
        out.writeframes(np.zeros(4000 * 6, dtype=np.int16).tobytes())
    chart = next(Path(demo_folders["audiograms"]).rglob("*.png"))
    shutil.copy(chart, folder / "chart.png")
    (folder / "notes.txt").write_text("not an input")
    return folder


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _predict(*args: str, artifacts: Path) -> int:
    return main(["predict", *args], settings=Settings(artifacts_dir=artifacts))


def test_a_folder_gives_one_row_per_input_in_order_with_the_apps_checks_and_results(
    sound_artifacts, archive, tmp_path, capsys
):
    artifacts, run_id = sound_artifacts
    out = tmp_path / "predictions.csv"
    args = ("--folder", str(archive), "--out", str(out), "--run", run_id, "--model", "custom_cnn", "--workers", "2")
    assert _predict(*args, artifacts=artifacts) == 2  # two files were refused: see their rows

    rows = _rows(out)
    inputs = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.suffix in {".wav", ".png"})
    assert [row["file"] for row in rows] == inputs  # notes.txt is no input; order is the files' order
    by_file = {row["file"]: row for row in rows}
    assert by_file["silent.wav"]["outcome"] == "refused" and "silent" in by_file["silent.wav"]["error"]
    assert "reads sounds" in by_file["chart.png"]["error"]
    service = PredictionService(Settings(artifacts_dir=artifacts))
    key = model_key(run_id, "custom_cnn")
    recordings = [name for name in inputs if "/" in name]  # those in class folders
    for name in recordings[:3]:  # the app's own answer for the same file, probability for probability
        row, app = by_file[name], service.predict((archive / name).read_bytes(), model=key).prediction
        assert row["outcome"] in {"classified", "uncertain", "not like the training data"}
        assert row["class"] == (app.shown_class or "") and row["operating_point_version"] == "0"
        if app.shown_class is not None:
            assert [float(row[f"p_{c}"]) for c in app.class_names] == pytest.approx(
                list(app.probabilities.values()), abs=1e-5
            )
    summary = capsys.readouterr().out
    assert f"{len(inputs)} rows written" in summary and "2 refused" in summary and "0 already there" in summary


def test_a_manifest_keeps_its_labels_and_names_missing_files_in_their_rows(sound_artifacts, archive, tmp_path):
    artifacts, run_id = sound_artifacts
    manifest = tmp_path / "list.csv"
    first = next((archive / "normal").glob("*.wav"))
    manifest.write_text(f"path,label\n{first},normal\narchive/gone.wav,murmur\n")
    out = tmp_path / "out.csv"
    args = ("--manifest", str(manifest), "--out", str(out), "--run", run_id, "--model", "custom_cnn")
    assert _predict(*args, "--workers", "1", artifacts=artifacts) == 2
    found, gone = _rows(out)
    assert (found["file"], found["label"], found["error"]) == (str(first), "normal", "")
    assert gone["label"] == "murmur" and gone["outcome"] == "refused"
    assert gone["error"].startswith("the file cannot be read (No such file")
    assert str(tmp_path) not in gone["error"]


def test_an_interrupted_batch_resumes_without_repeating_or_losing_a_file(sound_artifacts, archive, tmp_path, capsys):
    artifacts, run_id = sound_artifacts
    out = tmp_path / "predictions.csv"
    args = ["--folder", str(archive), "--out", str(out), "--run", run_id, "--model", "custom_cnn", "--workers", "1"]
    env = {**os.environ, "ARTIFACTS_DIR": str(artifacts)}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "core", "predict", *args], cwd=REPO, env=env)
    deadline = time.monotonic() + 180
    while process.poll() is None and time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= 4:  # header and some rows
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    with out.open("ab") as handle:  # whatever the kill left, a half-written row is cut on resume
        handle.write(b"murmur/half_written.wav,classi")
    complete = out.read_bytes().rsplit(b"\n", 1)[0].count(b"\n")  # rows before the half-written one

    capsys.readouterr()
    _predict(*args, artifacts=artifacts)
    rows = _rows(out)
    inputs = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.suffix in {".wav", ".png"})
    assert [row["file"] for row in rows] == inputs  # each file exactly once, in order
    assert f"{complete} already there" in capsys.readouterr().out


def test_resuming_into_a_csv_of_another_model_is_refused_not_mixed(sound_artifacts, archive, tmp_path, capsys):
    artifacts, run_id = sound_artifacts
    out = tmp_path / "predictions.csv"
    common = ("--folder", str(archive / "normal"), "--out", str(out), "--run", run_id, "--workers", "1")
    assert _predict(*common, "--model", "custom_cnn", artifacts=artifacts) == 0
    before = out.read_bytes()
    assert _predict(*common, "--model", "mobilenet_v2", artifacts=artifacts) == 2
    refusal = f"holds predictions of {run_id}/custom_cnn at operating point version 0, not {run_id}/mobilenet_v2"
    assert refusal in capsys.readouterr().err
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give files, --folder DIR or --manifest CSV (one of them)"),
        (("--folder", "x"), "give --out CSV with --folder or --manifest: where the rows go"),
        (("a.wav", "--folder", "x", "--out", "o.csv"), "give files, --folder DIR or --manifest CSV (one of them)"),
        (("--folder", "x", "--out", "o.csv", "--workers", "0"), "--workers must be 1 or more, got 0"),
    ],
)
def test_batch_options_are_checked_before_any_model_is_loaded(args, message, tmp_path, capsys):
    assert _predict(*args, artifacts=tmp_path / "empty") == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"
