import numpy as np

from core.config import TrainConfig
from core.serving.heatmap import occlusion_map, stitch_windows
from core.serving.litert import LiteRTModel
from core.training.export import export_litert
from core.training.fit import SplitData, fit_model


def _corner_images(rng, n):
    """Class 1 has a bright blob in the top-left corner; everything else is noise."""
    y = np.arange(n) % 2
    x = (rng.random((n, 48, 48, 3)) * 80).astype(np.uint8)
    x[y == 1, 4:16, 4:16] = 230
    return x, y


def test_a_model_that_looks_at_a_corner_heats_up_that_corner(rng, tmp_path):
    x, y = _corner_images(rng, 96)
    xv, yv = _corner_images(rng, 16)
    config = TrainConfig(epochs=6, batch_size=16, learning_rate=3e-3, patience=6, flip="none", augment="standard")
    result = fit_model("custom_cnn", SplitData(x, y, xv, yv, "image", 2), config)
    export_litert(result.model, tmp_path / "m.tflite")
    model = LiteRTModel(tmp_path / "m.tflite")
    sample = xv[yv == 1][0].astype(np.float32) / 255
    assert model(sample[None])[0, 1] > 0.5
    heat = occlusion_map(model, sample, 1)
    assert heat.shape == (48, 48) and heat.min() >= 0 and heat.max() == 1.0
    corner = heat[:18, :18].mean()
    rest = np.concatenate([heat[18:].ravel(), heat[:18, 18:].ravel()]).mean()
    assert corner > 2 * rest


def test_occlusion_batches_every_patch_in_one_call():
    calls = []

    def model(batch):
        calls.append(len(batch))
        return np.stack([1 - batch[:, 0, 0, 0], batch[:, 0, 0, 0]], axis=1)  # depends on the top-left pixel only

    x = np.ones((16, 16, 1), dtype=np.float32)
    heat = occlusion_map(model, x, 1, grid=4, fill=0.0)
    assert calls == [1 + 7 * 7]
    assert heat[0, 0] == 1.0 and heat[15, 15] == 0.0


def test_stitching_averages_overlapping_windows():
    windows = np.stack([np.ones((2, 4)), 3 * np.ones((2, 4))])
    stitched = stitch_windows(windows, np.array([0, 2]))
    assert stitched.shape == (2, 6)
    np.testing.assert_allclose(stitched[0], [1, 1, 2, 2, 3, 3])
