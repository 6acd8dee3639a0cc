import subprocess
import sys

from core.cli import main
from core.settings import Settings


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=300, env=env)


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
        ],
        settings=Settings(artifacts_dir=tmp_path),
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "custom_cnn" in out and "written to" in out
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
