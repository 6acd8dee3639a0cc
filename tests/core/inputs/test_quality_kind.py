"""A photo sent to a chart model, or a chart to a photo model, is refused in words: never a class on it."""

import numpy as np
import pytest

from core.data.demo import draw_audiogram
from core.errors import InputUnjudgeable
from core.inputs.preprocess import ImagePreprocessing, load_image, resize_image
from core.inputs.quality import check_kind, image_reference
from tests.core.serving.test_ood import photo_like, scribbles_on_paper

SIZE = 64


def _charts(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = ("normal", "high_frequency_loss", "noise_notch")
    return np.stack([resize_image(draw_audiogram(labels[i % 3], rng).convert("RGB"), SIZE) for i in range(n)])


def _photos(n: int) -> np.ndarray:
    return np.stack([load_image(photo_like(seed), ImagePreprocessing(image_size=SIZE)) for seed in range(n)])


def test_a_chart_model_refuses_a_photo_and_takes_charts_it_never_saw():
    reference = image_reference(_charts(30, seed=0))
    for pixels in _charts(10, seed=1):
        check_kind(pixels, reference)
    paper = load_image(scribbles_on_paper(), ImagePreprocessing(image_size=SIZE))
    check_kind(paper, reference)  # mostly paper, so passed on: unlike the charts, it is the OOD check that withholds it
    with pytest.raises(InputUnjudgeable, match=r"does not look like a chart: 0% of it is blank paper.* at least 9\d%"):
        check_kind(_photos(1)[0], reference)


def test_a_photo_model_refuses_a_chart_and_takes_photos():
    reference = image_reference(_photos(20))
    for pixels in _photos(3):
        check_kind(pixels, reference)
    with pytest.raises(InputUnjudgeable, match=r"looks like a chart or a document, not a photograph: 9\d% of it"):
        check_kind(_charts(1, seed=2)[0], reference)


def test_a_run_made_before_the_paper_share_was_recorded_is_not_checked():
    reference = image_reference(_charts(10, seed=0))
    del reference["paper_share"]
    check_kind(_photos(1)[0], reference)
    check_kind(_photos(1)[0], None)
