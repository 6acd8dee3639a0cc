"""The chart measure behind `--augment auto`: generated charts and documents against generated photos."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.data.demo import AUDIOGRAM_CLASSES, draw_audiogram
from core.inputs.charts import (
    CHART_CUTOFF,
    chart_score,
    describe_augmentation,
    looks_like_charts,
    paper_share,
    sample_rows,
)
from core.inputs.preprocess import ImagePreprocessing, load_image, resize_image
from tests.core.serving.test_ood import noise_png, photo_like

SIZE = 96


def audiograms(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([resize_image(draw_audiogram(AUDIOGRAM_CLASSES[i % 3], rng), SIZE) for i in range(n)])


def photographed(charts: np.ndarray, seed: int = 0) -> np.ndarray:
    """Charts as a phone sees printed paper: dimmer, warmer, lit unevenly."""
    rng = np.random.default_rng(seed)
    light = np.linspace(0.75, 0.95, SIZE)[None, None, :, None] * rng.uniform(0.95, 1.0, (len(charts), 1, 1, 1))
    return np.clip(charts * light * np.array([1.0, 0.97, 0.88]), 0, 255).astype(np.uint8)


def documents(n: int) -> np.ndarray:
    pages = []
    for index in range(n):
        page = Image.new("RGB", (400, 400), "white")
        draw = ImageDraw.Draw(page)
        for line in range(20, 380, 16):
            draw.text((20, line), f"Patient {index} line {line}: hearing thresholds within normal limits", fill="black")
        pages.append(resize_image(page, SIZE))
    return np.stack(pages)


def photos(n: int) -> np.ndarray:
    return np.stack([load_image(photo_like(seed), ImagePreprocessing(image_size=SIZE)) for seed in range(n)])


def xrays(n: int, seed: int = 0) -> np.ndarray:
    """Grey X-ray-like pictures: a bright body with darker lungs on a black background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    body = np.exp(-(((xx - 0.5) / 0.35) ** 4 + ((yy - 0.55) / 0.45) ** 4))
    lungs = sum(np.exp(-(((xx - c) / 0.12) ** 2 + ((yy - 0.5) / 0.25) ** 2)) for c in (0.35, 0.65))
    grey = [0.1 + 0.6 * body - 0.35 * lungs + rng.normal(0, 0.03, body.shape) for _ in range(n)]
    return np.repeat((np.clip(np.stack(grey), 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=-1)


@pytest.mark.parametrize(
    "make",
    [audiograms, lambda n: photographed(audiograms(n)), documents],
    ids=["audiograms", "photographed", "documents"],
)
def test_charts_and_documents_score_as_charts(make):
    score = chart_score(make(8))
    assert score >= CHART_CUTOFF + 0.2 and looks_like_charts(score)


def noise(n: int) -> np.ndarray:
    return np.stack([load_image(noise_png(seed), ImagePreprocessing(image_size=SIZE)) for seed in range(n)])


@pytest.mark.parametrize("make", [photos, xrays, noise])
def test_photos_and_grey_scans_do_not(make):
    score = chart_score(make(8))
    assert score <= CHART_CUTOFF - 0.4 and not looks_like_charts(score)


def test_the_typical_image_decides_not_a_few_odd_ones():
    charts, pictures = audiograms(7), photos(7)
    assert looks_like_charts(chart_score(np.concatenate([charts, pictures[:3]])))
    assert not looks_like_charts(chart_score(np.concatenate([pictures, charts[:3]])))


class CountingRows:
    """Indexed like the input cache's `InputRows`: by an integer array, counting the rows read and the largest read."""

    def __init__(self, images: np.ndarray):
        self.images, self.read, self.largest = images, 0, 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        self.read, self.largest = self.read + len(rows), max(self.largest, len(rows))
        return self.images[rows]


def test_a_large_set_is_measured_on_an_even_sample_read_in_chunks():
    rows = CountingRows(np.repeat(audiograms(2), 300, axis=0))
    assert looks_like_charts(chart_score(rows)) and rows.read == 256 and rows.largest == 32  # never the whole set
    assert sample_rows(600).tolist()[:2] == [0, 2] and sample_rows(600)[-1] == 599 and len(sample_rows(600)) == 256


def test_only_rgb_bytes_are_measured():
    with pytest.raises(ValueError, match="uint8"):
        paper_share(np.ones((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="no images"):
        chart_score(np.zeros((0, 8, 8, 3), np.uint8))
    tinted_paper = np.full((4, 4, 3), (235, 225, 200), np.uint8)  # yellowed paper is still paper
    assert paper_share(tinted_paper) == 1.0


def test_the_augmentation_record_is_told_in_words_and_older_runs_say_it_was_not_recorded():
    charts = {"asked": "auto", "mode": "mild", "chart_score": 0.96, "chart_cutoff": CHART_CUTOFF, "images_measured": 25}
    assert describe_augmentation(charts) == (
        "mild, chosen by --augment auto: chart score 0.96 >= 0.50, the training images look like charts"
        " (no flips or colour changes) (25 training images measured)"
    )
    assert describe_augmentation({"asked": "auto", "mode": "standard"}) == "standard, chosen by --augment auto (sounds)"
    assert describe_augmentation({}).startswith("not recorded")
