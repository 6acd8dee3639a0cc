"""The predictor's out-of-distribution check on the tiny chart and heart-sound runs, and models exported before it."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image, ImageDraw

from core.data.demo import draw_audiogram, heart_sound
from core.errors import InputUnjudgeable
from core.evaluation.ood import NO_REFERENCE
from core.serving.litert import LiteRTModel
from core.serving.predictor import Predictor
from core.store.layout import ArtifactsLayout, RunLayout


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def photo_like(seed: int = 0, size: int = 256) -> bytes:
    """A smooth, skin-toned picture with a dark opening: the colours and texture of a throat photo, no chart."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.75 + 0.2 * np.sin(3 * xx + rng.uniform(0, 6)), 0.35 + 0.15 * yy, 0.3 + 0.1 * xx], axis=-1)
    hole = np.exp(-(((xx - 0.5) ** 2 + (yy - 0.55) ** 2) / 0.03))[..., None]
    pixels = (base * (1 - 0.8 * hole) + 0.03 * rng.normal(size=base.shape)) * 255
    return _png(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))


def noise_png(seed: int = 0) -> bytes:
    return _png(Image.fromarray(np.random.default_rng(seed).integers(0, 256, (200, 200, 3), dtype=np.uint8)))


def scribbles_on_paper(seed: int = 0) -> bytes:
    """Coloured strokes on white: mostly blank paper, as a chart is, but nothing like an audiogram."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (400, 400), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        ends = [tuple(int(v) for v in rng.integers(0, 400, 2)) for _ in range(2)]
        draw.line(ends, fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=3)
    return _png(image)


def _wav(samples: np.ndarray, rate: int = 2000) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples.astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def chart_model(image_run):
    artifacts_dir, run_id, _ = image_run
    return Predictor(ArtifactsLayout(artifacts_dir).run(run_id).dir, "custom_cnn")


@pytest.mark.parametrize("make", [photo_like, noise_png])
def test_a_chart_model_refuses_a_photo_or_noise_in_words(chart_model, make):
    with pytest.raises(InputUnjudgeable, match="does not look like a chart: [0-9]+% of it is blank paper"):
        chart_model.predict(make())


def test_a_chart_model_withholds_the_class_of_paper_unlike_its_charts(chart_model):
    result = chart_model.predict(scribbles_on_paper())
    assert result.out_of_distribution is True and result.ood_score > 1
    assert result.shown_class is None and result.to_dict()["predicted"] is None and result.uncertain is True
    assert result.predicted in result.class_names  # the model's guess, kept for research use only
    assert result.ood_reason.startswith("unlike the training data") and "withheld" in result.ood_reason


def test_a_chart_model_keeps_the_class_of_charts_it_never_saw(chart_model):
    rng = np.random.default_rng(2024)  # not the demo data's seed: charts the model never saw
    labels = ("normal", "high_frequency_loss", "noise_notch")
    results = [chart_model.predict(_png(draw_audiogram(labels[i % 3], rng))) for i in range(20)]
    flagged = [r for r in results if r.out_of_distribution]
    assert len(flagged) <= 1  # the reference is calibrated to let 99% of in-distribution charts through
    assert all(r.predicted in r.class_names for r in results if not r.out_of_distribution)
    assert all(r.ood_reason.startswith("like the training data") for r in results if not r.out_of_distribution)


def test_a_heart_sound_model_withholds_noise_and_keeps_heart_sounds(sound_run):
    artifacts_dir, run_id, _ = sound_run
    predictor = Predictor(ArtifactsLayout(artifacts_dir).run(run_id).dir, "custom_cnn")
    noise = predictor.predict(_wav(np.random.default_rng(3).normal(0, 0.3, 2000 * 8)))
    assert noise.out_of_distribution is True and noise.shown_class is None and "windows" in noise.ood_reason
    rng = np.random.default_rng(2024)
    hearts = [predictor.predict(_wav(heart_sound(label, rng, seconds=8.0))) for label in ("normal", "murmur") * 3]
    assert sum(h.out_of_distribution for h in hearts) <= 1
    assert all(h.shown_class == h.predicted for h in hearts if not h.out_of_distribution)


def as_before_the_check(run, root: Path) -> RunLayout:
    """A copy of `(artifacts_dir, run_id, _)` under `root` as an older version left it: custom_cnn
    exported with a single output (probabilities), no out-of-distribution reference, and no paper share
    in its quality reference."""
    import keras

    artifacts_dir, run_id, _ = run
    copy = ArtifactsLayout(root).run(run_id)
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, copy.dir)
    files = copy.model("custom_cnn")
    files.ood_reference.unlink()
    reference = json.loads(copy.quality_reference.read_text())
    copy.quality_reference.write_text(json.dumps({k: v for k, v in reference.items() if k != "paper_share"}))
    keras.models.load_model(files.keras).export(str(files.tflite), format="litert")
    return copy


@pytest.fixture(scope="module")
def old_run(image_run, tmp_path_factory):
    return as_before_the_check(image_run, tmp_path_factory.mktemp("old"))


def test_a_model_exported_before_the_check_still_serves_and_says_it_was_not_checked(old_run):
    assert not LiteRTModel(old_run.model("custom_cnn").tflite).has_embedding
    result = Predictor(old_run.dir, "custom_cnn").predict(noise_png())
    assert result.predicted in result.class_names
    assert result.out_of_distribution is None and result.ood_score is None and result.ood_reason == NO_REFERENCE
