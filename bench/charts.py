"""Chart-safe augmentation benchmark: the chart score of many kinds of image, and standard vs mild on charts.

Usage:
    python -m bench.charts [--per-set 60] [--cv 5] [--cv-per-class 40] [--cv-size 64] [--cv-epochs 10]
                           [--modes standard,auto] [--seed 42] [--no-cv]

1. The chart score (`core.inputs.charts.chart_score`: the median share of
   bright, nearly grey "paper" pixels) of each set, at the default 224 px
   model size: the demo audiograms, the same charts photographed (dimmer,
   tinted, unevenly lit, JPEG), text documents, ECG strips, plots on a grey
   panel, charts on a dark background; and photos: the demo's photo-like
   pictures (`tests.core.serving.test_ood.photo_like`), the 592 throat photos
   of ../shared/data/throat-photos-dev (when present), X-ray-like grey
   pictures and their inverse, skin lesions, stained tissue, blood smears,
   objects on white. Every set but the throat photos is synthetic.
2. Unless --no-cv: custom_cnn on freshly generated demo audiograms with
   grouped K-fold cross-validation (`python -m core train --cv K`), once per
   augmentation mode (`--modes`: standard, with horizontal flips, and auto,
   which must choose mild): out-of-fold AUROC and balanced accuracy.

Writes bench/results/charts.json (with --no-cv) or charts-cv-seed<seed>.json,
and prints Markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bench.real_data import SHARED
from bench.results_io import save
from core.config import DataOptions, TrainConfig
from core.data.demo import AUDIOGRAM_CLASSES, draw_audiogram, generate_demo_data
from core.inputs.charts import CHART_CUTOFF, chart_score, looks_like_charts, paper_share
from core.inputs.preprocess import ImagePreprocessing, load_image, resize_image
from core.store.artifacts import read_json
from core.store.layout import ArtifactsLayout
from tests.core.serving.test_ood import photo_like

SIZE = 224
YY, XX = np.mgrid[0:256, 0:256] / 256  # the pixel grid of the 256 px pictures drawn here
Maker = Callable[[np.random.Generator], Image.Image]


def _picture(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8))


def audiogram(rng: np.random.Generator) -> Image.Image:
    return draw_audiogram(AUDIOGRAM_CLASSES[rng.integers(3)], rng)


def photographed_audiogram(rng: np.random.Generator) -> Image.Image:
    """A printed chart through a phone: dimmer, warmer, lit from one side, JPEG-compressed."""
    pixels = np.asarray(audiogram(rng), np.float32) / 255
    yy, xx = np.mgrid[0:512, 0:512] / 512
    light = (rng.uniform(0.72, 0.9) + 0.12 * (xx - 0.5) + 0.08 * yy)[..., None]
    buffer = io.BytesIO()
    _picture(pixels * light * np.array([1.0, rng.uniform(0.95, 1), rng.uniform(0.85, 0.95)])).save(
        buffer, "JPEG", quality=70
    )
    return Image.open(buffer)


def document(rng: np.random.Generator) -> Image.Image:
    page = Image.new("RGB", (512, 512), "white")
    draw = ImageDraw.Draw(page)
    for y in range(20, 490, int(rng.integers(12, 20))):
        draw.text((20, y), "".join(rng.choice(list("abcdefghij klmnop qrstuv 0123"), 70)), fill="black")
    return page


def ecg(rng: np.random.Generator) -> Image.Image:
    """Four leads in black on pink paper with a red 1 mm / 5 mm grid."""
    strip = Image.new("RGB", (512, 512), (255, 236, 236))
    draw = ImageDraw.Draw(strip)
    for k in range(0, 512, 10):
        width = 2 if k % 50 == 0 else 1
        draw.line([k, 0, k, 512], fill=(240, 150, 150), width=width)
        draw.line([0, k, 512, k], fill=(240, 150, 150), width=width)
    t = np.arange(512)
    for lead in range(4):
        beat = 3600 / rng.uniform(60, 110)
        trace = 60 + 120 * lead - 40 * np.exp(-(((t % beat) - 20) ** 2) / 8) + rng.normal(0, 1, 512)
        draw.line(list(zip(t.tolist(), trace.tolist(), strict=True)), fill="black", width=2)
    return strip


def _line_plot(rng: np.random.Generator, paper: tuple, panel: tuple | None, colour: tuple) -> Image.Image:
    plot = Image.new("RGB", (512, 512), paper)
    draw = ImageDraw.Draw(plot)
    if panel is not None:
        draw.rectangle([50, 30, 492, 462], fill=panel)
        for k in range(50, 492, 40):
            draw.line([k, 30, k, 462], fill="white", width=2)
    x, y = np.linspace(50, 490, 30), 250 + np.cumsum(rng.normal(0, 15, 30))
    draw.line(list(zip(x.tolist(), y.tolist(), strict=True)), fill=colour, width=3)
    return plot


def grey_panel_plot(rng: np.random.Generator) -> Image.Image:
    return _line_plot(rng, (255, 255, 255), (235, 235, 235), (248, 118, 109))


def dark_chart(rng: np.random.Generator) -> Image.Image:
    return _line_plot(rng, (20, 20, 30), None, (100, 200, 255))


def xray(rng: np.random.Generator) -> Image.Image:
    """Grey: a bright body with ribs and darker lungs on black."""
    yy, xx = YY, XX
    body = np.exp(-(((xx - 0.5) / rng.uniform(0.3, 0.4)) ** 4 + ((yy - 0.55) / 0.45) ** 4))
    ribs = 0.15 * (np.sin(yy * rng.uniform(40, 60)) > 0.6) * body
    lungs = sum(np.exp(-(((xx - c) / 0.12) ** 2 + ((yy - 0.5) / 0.25) ** 2)) for c in (0.35, 0.65))
    grey = 0.1 + 0.6 * body - 0.35 * lungs + ribs + rng.normal(0, 0.03, body.shape)
    return _picture(grey).filter(ImageFilter.GaussianBlur(2)).convert("RGB")


def inverted_xray(rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(255 - np.asarray(xray(rng)))


def skin_lesion(rng: np.random.Generator) -> Image.Image:
    yy, xx = YY, XX
    tone = np.array([0.85, 0.65, 0.55]) + rng.normal(0, 0.04, 3)
    lesion = np.exp(-(((xx - rng.uniform(0.4, 0.6)) / 0.18) ** 2 + ((yy - 0.5) / 0.15) ** 2))[..., None]
    colour = tone * (1 - 0.7 * lesion) + np.array([0.21, 0.1, 0.07]) * lesion
    vignette = 1 - 1.2 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)[..., None]
    return _picture(colour * vignette + rng.normal(0, 0.03, colour.shape))


def tissue(rng: np.random.Generator) -> Image.Image:
    """Stained tissue: pink and purple, no background."""
    field = np.asarray(_picture(rng.random((32, 32))).resize((256, 256), Image.Resampling.BICUBIC)) / 255
    pixels = np.array([0.9, 0.6, 0.8]) * (1 - field[..., None]) + np.array([0.45, 0.25, 0.6]) * field[..., None]
    return _picture(pixels + rng.normal(0, 0.04, pixels.shape))


def blood_smear(rng: np.random.Generator) -> Image.Image:
    """Pale cells and one stained cell on a light, nearly grey background."""
    yy, xx = np.mgrid[0:256, 0:256]
    pixels = np.ones((256, 256, 3)) * np.array([0.93, 0.88, 0.88])
    for _ in range(int(rng.integers(15, 30))):
        cx, cy, radius = *rng.uniform(0, 256, 2), rng.uniform(10, 18)
        pixels[(xx - cx) ** 2 + (yy - cy) ** 2 < radius**2] = [0.85, 0.55, 0.6]
    cx, cy = rng.uniform(60, 200, 2)
    pixels[(xx - cx) ** 2 + (yy - cy) ** 2 < 400] = [0.45, 0.25, 0.6]
    return _picture(pixels + rng.normal(0, 0.02, pixels.shape))


def object_on_white(rng: np.random.Generator) -> Image.Image:
    yy, xx = YY, XX
    pixels = np.ones((256, 256, 3)) * 0.97
    pixels[((xx - 0.5) / 0.3) ** 2 + ((yy - 0.5) / 0.35) ** 2 < 1] = np.array([0.6, 0.3, 0.2]) + rng.normal(0, 0.05, 3)
    return _picture(pixels + rng.normal(0, 0.02, pixels.shape))


def photo(rng: np.random.Generator) -> Image.Image:
    return Image.open(io.BytesIO(photo_like(int(rng.integers(2**31)))))


CHARTS: dict[str, Maker] = {
    "demo audiograms": audiogram,
    "photographed audiograms": photographed_audiogram,
    "text documents": document,
    "ECG strips": ecg,
    "plots on a grey panel": grey_panel_plot,
    "charts on a dark background": dark_chart,
}
PHOTOS: dict[str, Maker] = {
    "demo photo-like pictures": photo,
    "X-ray-like (grey)": xray,
    "X-ray-like, inverted": inverted_xray,
    "skin lesions": skin_lesion,
    "stained tissue": tissue,
    "blood smears": blood_smear,
    "objects on white": object_on_white,
}


def _row(kind: str, name: str, images: np.ndarray) -> dict:
    """One set's chart score (timed, as a run measures it), its per-image range and what `auto` chooses."""
    start = time.perf_counter()
    score = chart_score(images)
    seconds = time.perf_counter() - start
    shares = np.array([paper_share(pixels) for pixels in images])
    return {
        "kind": kind,
        "set": name,
        "n": len(images),
        "chart_score": score,
        "per_image_min": float(shares.min()),
        "per_image_max": float(shares.max()),
        "auto_chooses": "mild" if looks_like_charts(score) else "standard",
        "ms_per_image": 1000 * seconds / len(images),
    }


def scores(per_set: int) -> list[dict]:
    """The chart score of every generated set (and of the throat photos when ../shared/data has them)."""
    rows = []
    for kind, makers in (("chart", CHARTS), ("photo", PHOTOS)):
        for index, (name, make) in enumerate(makers.items()):
            rng = np.random.default_rng(100 + index)
            images = np.stack([resize_image(make(rng).convert("RGB"), SIZE) for _ in range(per_set)])
            rows.append(_row(kind, name, images))
    throat = sorted(p for p in (SHARED / "throat-photos-dev").rglob("*") if p.suffix.lower() == ".jpg")
    if throat:
        images = np.stack([load_image(path, ImagePreprocessing(image_size=SIZE)) for path in throat])
        rows.append(_row("photo", "throat-photos-dev (real)", images))
    return rows


def cross_validated(args: argparse.Namespace) -> list[dict]:
    """custom_cnn on fresh demo audiograms, grouped K-fold CV, once per augmentation mode."""
    from core.training.run import train_run

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = generate_demo_data(Path(tmp) / "data", per_class=args.cv_per_class, seed=args.seed)
        data = DataOptions(sources=(str(folders["audiograms"]),), cv=args.cv)
        for mode in args.modes.split(","):
            config = TrainConfig(
                models=("custom_cnn",),
                epochs=args.cv_epochs,
                weights="none",
                augment=mode,
                seed=args.seed,
                bootstrap_resamples=200,
            )
            start = time.perf_counter()
            run_id, results = train_run(
                data, config, artifacts_dir=Path(tmp) / mode, image=ImagePreprocessing(image_size=args.cv_size)
            )
            chosen = read_json(ArtifactsLayout(Path(tmp) / mode).run(run_id).config)["augmentation"]
            for row in results.to_dict("records"):
                rows.append(
                    {
                        "augment": mode,
                        "trained_with": chosen["mode"],
                        "chart_score": chosen.get("chart_score"),  # None unless auto measured the images
                        "model": row["model"],
                        "oof_auroc": row["test_auc"],
                        "oof_auroc_ci": [row["test_auc_low"], row["test_auc_high"]],
                        "oof_balanced_accuracy": row["test_balanced_accuracy"],
                        "oof_accuracy": row["test_accuracy"],
                        "seconds": time.perf_counter() - start,
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-set", type=int, default=60)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--cv-per-class", type=int, default=40)
    parser.add_argument("--cv-size", type=int, default=64)
    parser.add_argument("--cv-epochs", type=int, default=10)
    parser.add_argument("--modes", default="standard,auto", help="--augment modes compared (auto trains with mild)")
    parser.add_argument("--seed", type=int, default=42, help="seeds the CV's data, folds and training")
    parser.add_argument("--no-cv", action="store_true")
    args = parser.parse_args()
    record = {"cutoff": CHART_CUTOFF, "size": SIZE, "scores": scores(args.per_set)}
    print("| kind | set | n | chart score (median) | per-image range | auto chooses |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in record["scores"]:
        print(
            f"| {row['kind']} | {row['set']} | {row['n']} | {row['chart_score']:.3f} | "
            f"{row['per_image_min']:.2f}-{row['per_image_max']:.2f} | {row['auto_chooses']} |"
        )
    if not args.no_cv:
        record["cv"] = {"folds": args.cv, "per_class": args.cv_per_class, "size": args.cv_size, "seed": args.seed}
        record["cv"]["rows"] = cross_validated(args)
        print("\n| --augment | trained with | model | OOF AUROC [95% CI] | OOF balanced accuracy | OOF accuracy |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in record["cv"]["rows"]:
            low, high = row["oof_auroc_ci"]
            print(
                f"| {row['augment']} | {row['trained_with']} | {row['model']} | {row['oof_auroc']:.3f} "
                f"[{low:.3f}, {high:.3f}] | {row['oof_balanced_accuracy']:.3f} | {row['oof_accuracy']:.3f} |"
            )
    save("charts" if args.no_cv else f"charts-cv-seed{args.seed}", record)


if __name__ == "__main__":
    main()
