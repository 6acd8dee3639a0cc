import pandas as pd

from core.store import artifacts
from core.store.layout import ArtifactsLayout
from core.store.run_writer import METRICS_COLUMNS, RunWriter, library_versions


def test_a_run_is_running_then_complete_with_its_inputs_previews_and_comparisons(tmp_path):
    writer = RunWriter(tmp_path, "20260101-000000-demo-0000")
    run = ArtifactsLayout(tmp_path).run("20260101-000000-demo-0000")
    writer.set_status(dataset="demo")
    assert artifacts.read_json(run.status)["state"] == "running"
    split = pd.DataFrame({"path": ["a.png"], "sha256": ["ab" * 32], "split": ["test"]})
    writer.write_inputs(
        config={"seed": 1},
        audit={"n_files": 1},
        split=split,
        classes={"class_names": ["a", "b"]},
        preprocessing={"modality": "image"},
    )
    writer.write_previews("ab" * 32, {".png": b"\x89PNG"})
    writer.complete_model("custom_cnn", [{"a": "x", "b": "y"}])
    writer.complete()
    status = artifacts.read_json(run.status)
    assert status["state"] == "complete" and status["models_completed"] == ["custom_cnn"] and status["finished"]
    assert pd.read_csv(run.split).equals(split) and artifacts.read_json(run.config) == {"seed": 1}
    assert "python" in artifacts.read_json(run.versions) and artifacts.read_json(run.comparisons)[0]["a"] == "x"
    assert run.preview("ab" * 32, ".png").read_bytes() == b"\x89PNG"


def test_a_failed_run_says_why(tmp_path):
    writer = RunWriter(tmp_path, "r")
    writer.fail(RuntimeError("out of memory"))
    status = artifacts.read_json(ArtifactsLayout(tmp_path).run("r").status)
    assert status["state"] == "failed" and status["error"] == "out of memory"
    writer.fail(KeyboardInterrupt())
    assert artifacts.read_json(ArtifactsLayout(tmp_path).run("r").status)["error"] == "KeyboardInterrupt"


def test_each_epoch_is_appended_to_the_training_metrics_with_run_and_model(tmp_path):
    on_epoch = RunWriter(tmp_path, "r").epoch_writer("vgg16")
    on_epoch({"epoch": 1, "loss": 0.5, "phase": "train"})
    on_epoch({"epoch": 2, "loss": 0.4, "phase": "train"})
    metrics = pd.read_csv(ArtifactsLayout(tmp_path).metrics_csv)
    assert list(metrics.columns) == list(METRICS_COLUMNS)
    rows = metrics[["run_id", "model", "epoch", "loss"]].values.tolist()
    assert rows == [["r", "vgg16", 1, 0.5], ["r", "vgg16", 2, 0.4]]


def test_library_versions_name_python_and_the_installed_libraries():
    versions = library_versions()
    assert {"python", "platform", "numpy", "pandas"} <= set(versions)
