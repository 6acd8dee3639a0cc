import os
import shutil
import subprocess
import sys

import pytest

from core.cli import main
from core.config import DataOptions, TrainConfig
from core.errors import InvalidInput
from core.settings import Settings
from core.store.layout import ArtifactsLayout


def _cli(*args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_help_explains_every_train_option():
    result = _cli("train", "--help")
    assert result.returncode == 0
    for option in (
        "--data",
        "--models",
        "--epochs",
        "--image-size",
        "--weights",
        "--seed",
        "--label-map",
        "--group-pattern",
        "--split",
        "--loss",
        "--fine-tune-epochs",
        "--n-mels",
        "--window-seconds",
    ):
        assert option in result.stdout


def test_audit_prints_a_summary(demo_folders, capsys):
    assert main(["audit", "--data", str(demo_folders["heart_sounds"])]) == 0
    out = capsys.readouterr().out
    assert "24 sound files" in out and "murmur: 12" in out and "0 unreadable" in out


def test_user_errors_are_one_line_with_a_non_zero_exit(tmp_path):
    result = _cli("audit", "--data", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: data source {tmp_path / 'missing'} does not exist"]
    assert "Traceback" not in result.stderr


def test_train_with_unknown_model_fails_cleanly(demo_folders, tmp_path, capsys):
    code = main(
        ["train", "--data", str(demo_folders["audiograms"]), "--models", "custom_cnn,alexnet"],
        settings=Settings(artifacts_dir=tmp_path),
    )
    assert code == 2
    assert "unknown model(s) alexnet" in capsys.readouterr().err


def test_train_command_runs_a_tiny_training(demo_folders, tmp_path, capsys):
    code = main(
        [
            "train",
            "--data",
            str(demo_folders["audiograms"]),
            "--models",
            "custom_cnn",
            "--epochs",
            "1",
            "--image-size",
            "48",
            "--label-map",
            "noise_notch=hearing_loss,high_frequency_loss=hearing_loss",
            "--name",
            "merged",
            "--flip",
            "none",
            "--bootstrap-resamples",
            "50",  # the least accepted: 1000 made this the slowest test (intervals and paired comparisons)
        ],
        settings=Settings(artifacts_dir=tmp_path),
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "custom_cnn" in out and "written to" in out and "test figures per item" in out
    assert "test_balanced_accuracy" in out and "test_sens_at_90_spec" in out
    assert "custom_cnn is " in out and " than baseline (AUROC difference " in out  # the baseline is always trained
    assert "augmentation: mild, chosen by --augment auto: chart score " in out  # charts: no flips by default
    run = next((tmp_path / "runs").iterdir())
    assert "merged" in run.name
    assert (run / "classes.json").read_text().count("hearing_loss") == 2  # class list and positive class


def test_demo_data_only(tmp_path, capsys):
    assert main(["demo", "--data-only", "--per-class", "2"], settings=Settings(demo_data_dir=tmp_path)) == 0
    assert len(list((tmp_path / "synthetic-audiograms").rglob("*.png"))) == 6


def test_the_demo_promotes_its_best_model_explicitly_with_reason_demo(sound_run, tmp_path, capsys):
    import shutil

    from core.cli import _promote_demo, _serving_state
    from core.store.layout import ArtifactsLayout
    from core.store.registry import best_model

    artifacts_dir, run_id, _ = sound_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    settings = Settings(artifacts_dir=tmp_path)
    _promote_demo(settings, run_id)
    champion = _serving_state(settings).champion()
    assert (champion["run_id"], champion["model"], champion["reason"]) == (run_id, best_model(tmp_path, run_id), "demo")
    assert f"champion is now {run_id}/" in capsys.readouterr().out


def test_promote_champions_and_rollback_to_an_earlier_entry(sound_run, tmp_path, capsys):
    import shutil

    from core.store.layout import ArtifactsLayout

    artifacts_dir, run_id, _ = sound_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    settings = Settings(artifacts_dir=tmp_path)
    assert main(["champions"], settings=settings) == 0
    assert "no champion has been promoted yet" in capsys.readouterr().out
    for model in ("custom_cnn", "mobilenet_v2"):
        assert main(["promote", run_id, model, "--reason", f"try {model}", "--force"], settings=settings) == 0
    assert main(["rollback", "--reason", "back to the first", "--to", "1"], settings=settings) == 0
    assert f"champion is now {run_id}/custom_cnn again" in capsys.readouterr().out
    assert main(["champions"], settings=settings) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[0] == "3" and "back to the first" in listing[0] and "try mobilenet_v2" in listing[1]
    assert main(["rollback", "--reason", "typo", "--to", "42"], settings=settings) == 2
    assert "no entry 42" in capsys.readouterr().err


def _refusal(argv, tmp_path, capsys) -> str:
    """Run the CLI in-process; return its one error line, asserting exit 2 and nothing under ARTIFACTS_DIR."""
    artifacts_dir = tmp_path / "artifacts"
    try:
        code = main(argv, settings=Settings(artifacts_dir=artifacts_dir))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err
    assert not artifacts_dir.exists()
    return lines[0]


@pytest.mark.parametrize(
    "option, expected",
    [
        (["--epochs", "0"], "--epochs must be a whole number at least 1, got 0"),
        (["--epochs", "-3"], "--epochs must be a whole number at least 1, got -3"),
        (["--epochs", "many"], "argument --epochs: invalid int value: 'many' (see python -m core train --help)"),
        (["--batch-size", "0"], "--batch-size must be a whole number at least 1, got 0"),
        (["--target-sensitivity", "1.5"], "--target-sensitivity must be a fraction in (0, 1], e.g. 0.9, got 1.5"),
        (["--target-sensitivity", "0"], "--target-sensitivity must be a fraction in (0, 1]"),
        (["--split", "0.5,0.5,0.5"], "--split fractions must be three positive numbers summing to 1"),
        (["--split", "0.8,0.2,0"], "--split fractions must be three positive numbers summing to 1"),
        (["--split", "0.7,0.3"], "argument --split: expected three numbers like 0.7,0.15,0.15"),
        (["--models", "custom_cnn,alexnet"], "unknown model(s) alexnet; choose from baseline, custom_cnn"),
        (["--models", ","], "unknown model(s) (none)"),
        (["--models", "custom_cnn,custom_cnn"], "--models names custom_cnn more than once"),
        (["--learning-rate", "nan"], "--learning-rate must be a positive number, got nan"),
        (["--learning-rate", "0"], "--learning-rate must be a positive number, got 0.0"),
        (["--seed", "-1"], "--seed must be a whole number between 0 and 4294967295, got -1"),
        (["--bootstrap-resamples", "0"], "--bootstrap-resamples must be a whole number at least 50, got 0"),
        (["--cache-views", "0"], "--cache-views must be a whole number at least 1, got 0"),
        (["--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
        (["--group-pattern", "("], "--group-pattern '(' is not a valid regex"),
        (["--label-map", "mild"], "--label-map entries must look like old=new"),
    ],
)
def test_every_bad_train_option_is_one_line_and_exit_2_before_a_run_folder_exists(
    demo_folders, tmp_path, capsys, option, expected
):
    line = _refusal(["train", "--data", str(demo_folders["audiograms"]), *option], tmp_path, capsys)
    assert expected in line


@pytest.mark.parametrize(
    "data, option, expected",
    [
        ("audiograms", ["--image-size", "0"], "image size must be a whole number of pixels from 8 to 1024, got 0"),
        ("heart_sounds", ["--n-mels", "0"], "n mels must be a positive whole number, got 0"),
        ("heart_sounds", ["--hop-length", "0"], "hop length must be a positive whole number, got 0"),
        ("heart_sounds", ["--sample-rate", "0"], "sample rate must be a positive whole number, got 0"),
        ("heart_sounds", ["--fmin", "-5"], "fmin must be at least 0 Hz and below fmax, got -5.0 Hz"),
        ("heart_sounds", ["--overlap", "1"], "window overlap must be in [0, 1), got 1.0"),
        ("heart_sounds", ["--bandpass", "400,25"], "bandpass_hz must satisfy 0 < low < high < 2000 Hz"),
        ("heart_sounds", ["--bandpass", "low"], "argument --bandpass: expected none or two frequencies like 25,400"),
        ("heart_sounds", ["--normalisation", "peak"], "argument --normalisation: invalid choice: 'peak'"),
    ],
)
def test_bad_preprocessing_options_stop_before_a_run_folder_exists(
    demo_folders, tmp_path, capsys, data, option, expected
):
    line = _refusal(["train", "--data", str(demo_folders[data]), *option], tmp_path, capsys)
    assert expected in line


def test_the_python_api_checks_options_by_the_same_rules():
    with pytest.raises(InvalidInput, match="--epochs must be a whole number at least 1, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(InvalidInput, match="--target-sensitivity"):
        TrainConfig(target_sensitivity=1.5)
    with pytest.raises(InvalidInput, match="--batch-size must be a whole number at least 1, got 2.5"):
        TrainConfig(batch_size=2.5)
    with pytest.raises(InvalidInput, match="dropout must be in"):
        TrainConfig(dropout=1.0)
    with pytest.raises(InvalidInput, match="--split fractions"):
        DataOptions(sources=("data",), split=(0.9, 0.1, 0.0))
    with pytest.raises(InvalidInput, match="no data given"):
        DataOptions(sources=())


def test_argparse_errors_are_one_line_too(tmp_path):
    result = _cli("train", "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: the following arguments are required: --data (see python -m core train --help)"
    ]


def _with_an_unopenable_class(demo_folders, tmp_path):
    """The demo audiograms, plus a class folder that cannot be opened even by root (a symbolic link loop)."""
    data = tmp_path / "data"
    data.mkdir()
    for class_dir in demo_folders["audiograms"].iterdir():
        if class_dir.is_dir():
            (data / class_dir.name).symlink_to(class_dir)
    (data / "pharyngitis").symlink_to(data / "pharyngitis")
    return data


def test_train_refuses_a_data_folder_with_an_unreadable_class_folder_naming_it(demo_folders, tmp_path, capsys):
    data = _with_an_unopenable_class(demo_folders, tmp_path)
    line = _refusal(["train", "--data", str(data), "--weights", "none"], tmp_path, capsys)
    assert f"{data / 'pharyngitis'} is a symbolic link that leads nowhere" in line
    assert "perhaps a whole class" in line


def test_audit_reports_an_unreadable_class_folder_and_exits_2(demo_folders, tmp_path, capsys):
    data = _with_an_unopenable_class(demo_folders, tmp_path)
    assert main(["audit", "--data", str(data)], settings=Settings(artifacts_dir=tmp_path / "a")) == 2
    captured = capsys.readouterr()
    assert "1 unreadable folders: training refuses until they can be read" in captured.out
    assert f"  {data / 'pharyngitis'}: is a symbolic link that leads nowhere" in captured.out
    assert "high_frequency_loss: 12" in captured.out  # the readable classes are still counted
    assert captured.err.strip() == f"error: 1 folder(s) cannot be read, such as {data / 'pharyngitis'}"


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16-le"])
def test_a_manifest_in_another_encoding_is_a_user_error_naming_the_file(tmp_path, encoding, capsys):
    manifest = tmp_path / "labels.csv"
    manifest.write_bytes("path,label\nimg/é.png,anormal_é\n".encode(encoding))
    line = _refusal(["audit", "--data", str(manifest)], tmp_path, capsys)
    assert line.startswith(f"error: manifest {manifest} ") and "save it as UTF-8" in line


def test_audit_skips_a_named_pipe_in_a_data_folder_instead_of_waiting_on_it(demo_folders, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_folders["heart_sounds"], data)
    os.mkfifo(data / "murmur" / "live.wav")
    result = _cli("audit", "--data", str(data), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "is a named pipe (FIFO), not a file: 1" in result.stdout and "murmur: 12" in result.stdout


def test_predict_on_a_named_pipe_or_a_folder_is_a_clear_error_not_a_hang(image_run, tmp_path):
    artifacts_dir, run_id, _ = image_run
    copy = tmp_path / "artifacts"
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(copy).run(run_id).dir)
    pipe = tmp_path / "scan.png"
    os.mkfifo(pipe)
    env = {**os.environ, "ARTIFACTS_DIR": str(copy)}
    env.pop("DATABASE_URL", None)
    args = ("predict", str(pipe), str(tmp_path), "--run", run_id, "--model", "custom_cnn")
    result = _cli(*args, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout.splitlines() == [
        f"{pipe}: error: is a named pipe (FIFO), not a file",
        f"{tmp_path}: error: is a folder, not a file",
    ]


def test_the_training_summary_says_plainly_which_models_show_no_skill_or_do_not_beat_the_baseline(tmp_path, capsys):
    import pandas as pd

    from core.cli import _print_results

    def row(model, auc, beats, text, no_skill=False):
        figures = {"test_auc": auc, "test_balanced_accuracy": 0.7, "test_sens_at_90_spec": 0.5}
        return {"model": model, "level": "recording", "test_n": 40, **figures, "no_evidence_of_skill": no_skill}, {
            "beats_baseline": beats,
            "versus_baseline": text,
        }

    rows = [
        row("baseline", 0.80, None, None),
        row(
            "custom_cnn", 0.81, False, "custom_cnn is not significantly better than baseline (AUROC difference +0.010)"
        ),
        row("vgg16", 0.55, False, "vgg16 is significantly worse than baseline (AUROC difference -0.250)", True),
        row("resnet50", 0.95, True, "resnet50 is significantly better than baseline (AUROC difference +0.150)"),
    ]
    _print_results("r1", pd.DataFrame([{**a, **b} for a, b in rows]), tmp_path)
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        "test figures per recording (n=40); AUROC, balanced accuracy and sensitivity at 90% specificity [95% interval]"
    )
    assert "test_balanced_accuracy" in out[2] and "test_sens_at_90_spec" in out[2]
    assert out[-4:] == [
        "custom_cnn does not significantly beat the baseline: custom_cnn is not significantly better than baseline "
        "(AUROC difference +0.010)",
        "vgg16: no evidence of skill (its test AUROC's 95% interval includes 0.5); it is never chosen as champion "
        "automatically, and promoting it needs --force",
        "vgg16 does not significantly beat the baseline: vgg16 is significantly worse than baseline "
        "(AUROC difference -0.250)",
        "resnet50 is significantly better than baseline (AUROC difference +0.150)",
    ]
