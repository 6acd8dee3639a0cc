"""Devices and precision: the CPU path is float32 and unchanged, mixed precision is chosen only where it helps,
its models keep float32 probabilities and export as float32 twins, and every run records what trained it."""

import json

import keras
import numpy as np
import pytest

from core.cli import main
from core.config import TrainConfig
from core.errors import InvalidInput
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.training.devices import Devices, Gpu, choose_precision, training_devices, visible_gpus
from core.training.export import export_checked
from core.training.models import build_custom_cnn, float32_twin

H100, V100, P100 = Gpu("NVIDIA H100", (9, 0)), Gpu("Tesla V100", (7, 0)), Gpu("Tesla P100", (6, 0))
ON_CPU = {"kind": "CPU", "names": ["CPU"], "precision": "float32", "strategy": "default", "count": 1}
# These tests state what a machine without a GPU does; on a GPU machine they would train (and on GPUs differently).
cpu_only = pytest.mark.skipif(bool(visible_gpus()), reason="asserts the CPU-only path; this machine has a GPU")


@pytest.mark.parametrize(
    "option, gpus, expected",
    [
        ("auto", [], "float32"),
        ("auto", [P100], "float32"),  # no tensor cores: 16 bits would only cost accuracy
        ("auto", [V100], "mixed_float16"),
        ("auto", [H100, H100], "mixed_bfloat16"),
        ("auto", [H100, V100], "mixed_float16"),  # the weakest GPU decides
        ("float32", [H100], "float32"),
        ("mixed", [P100], "mixed_float16"),
    ],
)
def test_precision_is_mixed_only_on_gpus_with_tensor_cores_unless_asked(option, gpus, expected):
    assert choose_precision(option, gpus) == expected


def test_mixed_precision_without_a_gpu_and_unknown_options_are_refused():
    with pytest.raises(InvalidInput, match="--precision mixed needs a GPU"):
        choose_precision("mixed", [])
    with pytest.raises(InvalidInput, match="--precision must be one of auto, float32, mixed, got 'half'"):
        TrainConfig(precision="half")
    with pytest.raises(InvalidInput, match="--augment must be one of auto, standard, mild, none, got 'strong'"):
        TrainConfig(augment="strong")


@cpu_only
def test_this_cpu_machine_trains_in_float32_without_a_strategy():
    devices = training_devices("auto")
    assert devices.to_dict() == ON_CPU
    assert devices.describe() == "CPU, float32"
    assert Devices("GPU", ("NVIDIA H100",) * 2, "mixed_bfloat16", "mirrored").describe() == (
        "2 GPU (NVIDIA H100), mixed_bfloat16, mirrored"
    )


@pytest.mark.parametrize(
    "option, expected",
    [
        (["--precision", "mixed"], "--precision mixed needs a GPU, and none is visible; use auto or float32"),
        (["--precision", "half"], "argument --precision: invalid choice: 'half'"),
        (["--augment", "strong"], "argument --augment: invalid choice: 'strong'"),
    ],
)
@cpu_only
def test_bad_device_options_stop_the_command_line_before_a_run_folder_exists(
    demo_folders, tmp_path, capsys, option, expected
):
    artifacts_dir = tmp_path / "artifacts"
    try:
        argv = ["train", "--data", str(demo_folders["audiograms"]), *option]
        code = main(argv, settings=Settings(artifacts_dir=artifacts_dir))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0]
    assert not artifacts_dir.exists()


def test_a_mixed_precision_model_keeps_float32_probabilities_and_exports_as_a_float32_twin(rng, tmp_path):
    with Devices("CPU", ("CPU",), "mixed_bfloat16", "default").scope():
        model = build_custom_cnn((32, 32, 3), 2)
    assert keras.config.dtype_policy().name == "float32"  # restored for whatever is built next
    assert model.get_layer("last_conv").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("predictions").dtype_policy.name == "float32"
    x = (rng.random((6, 32, 32, 3)) * 255).astype(np.uint8)
    inputs = x.astype("float32") / 255
    mixed = np.asarray(model(inputs, training=False))
    twin = float32_twin(model)
    assert {layer.dtype_policy.name for layer in twin.layers} == {"float32"}
    for ours, theirs in zip(twin.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    probs = np.asarray(twin(inputs, training=False))
    assert mixed.dtype == probs.dtype == np.float32
    np.testing.assert_allclose(probs, mixed, atol=0.05)  # the same model, up to bfloat16 rounding
    assert float32_twin(twin) is twin
    copied = float32_twin(twin, copy=True)  # what a model trained on several GPUs is saved as
    assert copied is not twin
    np.testing.assert_allclose(np.asarray(copied(inputs, training=False)), probs, rtol=1e-6)
    figures = export_checked(twin, tmp_path / "model.tflite", x, probs)
    assert figures["litert_parity"]["passed"], figures["litert_parity"]


def test_a_trained_run_records_the_devices_it_trained_on(image_run):
    artifacts_dir, run_id, _ = image_run
    status = json.loads(ArtifactsLayout(artifacts_dir).run(run_id).status.read_text())
    assert status["devices"] == training_devices("auto").to_dict()
