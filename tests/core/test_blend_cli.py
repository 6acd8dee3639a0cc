"""A blend on the command line: said in one line in the training summary, promoted, given an operating point and
predicted with (one file and a batch) like any model."""

from __future__ import annotations

import csv
import json
import shutil

from core.cli import _print_results, main
from core.settings import Settings
from core.store.layout import ArtifactsLayout


def test_the_training_summary_says_what_each_blend_is_in_one_line(sound_run, capsys):
    artifacts_dir, run_id, results = sound_run
    _print_results(run_id, results, str(artifacts_dir))
    lines = capsys.readouterr().out.splitlines()
    assert "custom_cnn_blend: custom_cnn and baseline, probabilities averaged" in lines
    assert "mobilenet_v2_blend: mobilenet_v2 and baseline, probabilities averaged" in lines
    assert not any(line.startswith(("custom_cnn:", "baseline:")) and "averaged" in line for line in lines)


def test_a_blend_is_promoted_given_an_operating_point_and_predicts_files_and_batches(
    sound_run, demo_folders, tmp_path, capsys
):
    artifacts_dir, run_id, _ = sound_run
    copy = tmp_path / "artifacts"
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(copy).run(run_id).dir)
    settings = Settings(artifacts_dir=copy)
    model = "custom_cnn_blend"
    assert main(["promote", run_id, model, "--reason", "blend", "--force"], settings=settings) == 0
    assert main(["operating-point", run_id, model, "--threshold", "0.4", "--note", "more sensitive"], settings) == 0
    assert f"{run_id}/{model}: operating point version 1 in force: threshold 0.4" in capsys.readouterr().out
    recording = next(demo_folders["heart_sounds"].rglob("*.wav"))
    assert main(["predict", str(recording), "--json"], settings=settings) == 0  # the champion: the blend
    (answer,) = json.loads(capsys.readouterr().out)
    assert (answer["model"], answer["threshold"], answer["operating_point_version"]) == (model, 0.4, 1)
    out = tmp_path / "rows.csv"
    folder = recording.parent
    args = ["predict", "--folder", str(folder), "--out", str(out), "--run", run_id, "--model", model, "--workers", "1"]
    assert main(args, settings=settings) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(list(folder.glob("*.wav"))) and {row["model"] for row in rows} == {model}
