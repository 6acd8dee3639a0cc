"""Whether a set of images looks like charts or documents: how `--augment auto` chooses its augmentation.

Also what a run's augmentation record means in words (`describe_augmentation`),
for the command line and the dashboard alike (neither may need Keras to say it).

Why it matters: on a chart the position and colour of a mark carry its
meaning. A horizontally flipped audiogram puts a high-frequency notch at
the low frequencies, and recoloured symbols swap the ears (red O = right,
blue X = left), so the standard augmentation (flips, rotation, brightness,
contrast) trains a chart model on charts that say something else. A photo
(a throat, a skin lesion) means the same flipped or relit.

The measure, simple enough to explain to a user: the share of *paper*
pixels, those both bright (HSV value of at least `PAPER_VALUE`) and nearly
grey (HSV saturation of at most `PAPER_SATURATION`), in each image; the
score of a set is the median share over at most `SAMPLE` images, evenly
spaced, and a set scoring at least `CHART_CUTOFF` ("mostly blank paper")
is taken for charts. Relative saturation rather than a fixed grey level
keeps photographed, dimmed, tinted or yellowed paper (a phone picture of a
printed chart, a scan) counted as paper; the median lets neither a few
photos among charts nor a few white-background photos among photos decide.

Evidence (docs/benchmarks.md, "Chart-safe augmentation", `bench/charts.py`):
charts and documents score 0.73 to 0.99 (demo audiograms 0.96, photographed
audiograms 0.85, ECG strips 0.73), photos 0.00 to 0.01 (the 592 real throat
photos 0.005, grey X-ray-like pictures 0.001) and inverted X-rays 0.36. Limits,
named here: a chart on a dark background is not recognised (pass
`--augment mild`), and photos that are mostly white background (blood smears,
objects on white) score as charts and get the mild augmentation: less
variety, never a changed meaning.

Plain numpy over model-size uint8 pixels, as the input cache holds them.
"""

from __future__ import annotations

import numpy as np

PAPER_VALUE = 0.75  # HSV value (brightest channel / 255) of paper, photographed or scanned paper included
PAPER_SATURATION = 0.2  # HSV saturation ((max - min) / max channel) of paper; skin and mucosa are well above
CHART_CUTOFF = 0.5  # a median image at least half blank paper is a chart
SAMPLE = 256  # images measured: every set in the evidence sits at least 0.14 from the cut-off, so a few hundred do
_CHUNK = 32  # images read at a time, so large images never fill memory


def paper_share(pixels: np.ndarray) -> float:
    """Share of one image's pixels that are blank paper: bright and nearly grey.

    Args:
        pixels: (height, width, 3) uint8 RGB.

    >>> paper_share(np.full((4, 4, 3), 250, np.uint8)), paper_share(np.full((4, 4, 3), (200, 80, 70), np.uint8))
    (1.0, 0.0)
    """
    if pixels.ndim != 3 or pixels.shape[-1] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected (height, width, 3) uint8 pixels, got {pixels.dtype} {pixels.shape}")
    brightest = pixels.max(axis=-1).astype(np.int16)
    spread = brightest - pixels.min(axis=-1)
    paper = (brightest >= PAPER_VALUE * 255) & (spread <= PAPER_SATURATION * brightest)
    return float(paper.mean())


def sample_rows(count: int, most: int = SAMPLE) -> np.ndarray:
    """At most `most` row numbers out of `count`, evenly spaced from the first to the last.

    >>> sample_rows(5).tolist(), sample_rows(1000, 3).tolist()
    ([0, 1, 2, 3, 4], [0, 500, 999])
    """
    if count <= most:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, most).round().astype(np.int64))


def chart_score(images) -> float:
    """The median paper share of at most `SAMPLE` evenly spaced images.

    Args:
        images: (n, height, width, 3) uint8 images, n >= 1: an array, or
            anything indexed like one by an integer array (the input cache's
            `InputRows`), which is then read a chunk at a time.
    """
    rows = sample_rows(len(images))
    if not len(rows):
        raise ValueError("no images to measure")
    shares = [
        paper_share(pixels)
        for start in range(0, len(rows), _CHUNK)
        for pixels in np.asarray(images[rows[start : start + _CHUNK]])
    ]
    return float(np.median(shares))


def looks_like_charts(score: float) -> bool:
    """Whether a set's `chart_score` says charts or documents (mostly blank paper), not photos."""
    return score >= CHART_CUTOFF


def describe_augmentation(record: dict | None) -> str:
    """What a run's augmentation record (its `config.json` "augmentation") means, in one line for people.

    The record is written by `core.training.augment.choose_augmentation`;
    the command line prints this line after training and the dashboard's run
    settings show it, so the two never explain a run differently. Runs
    trained before the record existed say so rather than guess.

    >>> describe_augmentation({"asked": "auto", "mode": "standard", "chart_score": 0.01, "chart_cutoff": 0.5})
    'standard, chosen by --augment auto: chart score 0.01 < 0.50, the training images look like photos'
    >>> describe_augmentation(None)
    'not recorded (run trained before the augmentation record)'
    """
    if not record:
        return "not recorded (run trained before the augmentation record)"
    mode = record.get("mode", "?")
    if record.get("asked") != "auto":
        return f"{mode}, as asked"
    if record.get("chart_score") is None:
        return f"{mode}, chosen by --augment auto (sounds)"
    score, cutoff = record["chart_score"], record["chart_cutoff"]
    if mode == "mild":
        why = f"{score:.2f} >= {cutoff:.2f}, the training images look like charts (no flips or colour changes)"
    else:
        why = f"{score:.2f} < {cutoff:.2f}, the training images look like photos"
    measured = f" ({record['images_measured']} training images measured)" if record.get("images_measured") else ""
    return f"{mode}, chosen by --augment auto: chart score {why}{measured}"
