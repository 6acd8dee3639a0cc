"""Out-of-distribution benchmark: does each model withhold inputs it was never meant to judge?

Usage:
    python -m bench.ood [--pairs charts,throat,heart] [--epochs 6] [--image-size 96]

Trains a small custom CNN per pair (`python -m core train` code path) and
scores, through the TF-free `Predictor`, data the model never saw:

    charts  a model of demo audiogram charts   vs throat photos (../shared/data/throat-photos-dev)
    throat  a model of the throat photos        vs demo audiogram charts (a fresh seed)
    heart   a model of ../shared/data/heart-sounds-dev vs generated noise, music-like tones
            and speech-like signals

For each pair: the OOD AUROC (the model's own test inputs against the
foreign ones, by `ood_score`), the share of its own test inputs flagged
(goal <= 2%) and the share of foreign inputs flagged. Writes
bench/results/ood.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from PIL import Image
from sklearn.metrics import roc_auc_score

from bench.real_data import DATASETS, SHARED
from bench.results_io import save
from core.config import DataOptions, TrainConfig
from core.data.demo import AUDIOGRAM_CLASSES, draw_audiogram, generate_demo_data
from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing
from core.serving.predictor import Predictor
from core.store.layout import ArtifactsLayout
from core.training.run import train_run

RATE = 4000


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _wav(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.8 * samples / (np.abs(samples).max() + 1e-9)).astype(np.float32), RATE, format="WAV")
    return buffer.getvalue()


def fresh_charts(n: int, seed: int = 2024) -> list[bytes]:
    """Audiogram charts drawn with a seed no model trained on."""
    rng = np.random.default_rng(seed)
    return [_png(draw_audiogram(AUDIOGRAM_CLASSES[i % 3], rng)) for i in range(n)]


def throat_photos(n: int) -> list[str]:
    paths = sorted(str(p) for p in (SHARED / "throat-photos-dev").rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    return list(np.random.default_rng(0).permutation(paths)[:n])


def noise(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """White, pink or brown noise."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.normal(size=n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 1.0)
    return np.fft.irfft(spectrum / freqs ** rng.choice([0.0, 0.5, 1.0]), n)


def tones(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Music-like: a melody of harmonic notes (110-880 Hz) with attack-decay envelopes."""
    t = np.arange(int(seconds * RATE)) / RATE
    signal = np.zeros_like(t)
    note = rng.uniform(0.2, 0.6)
    for start in np.arange(0, seconds, note):
        f0 = 110 * 2 ** (rng.integers(0, 37) / 12)
        mask = (t >= start) & (t < start + note * 1.5)
        local = t[mask] - start
        envelope = np.exp(-local * rng.uniform(2, 6)) * (1 - np.exp(-local * 200))
        signal[mask] += envelope * sum(np.sin(2 * np.pi * f0 * k * local) / k for k in range(1, 6))
    return signal


def speech_like(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Speech-like: a glottal pulse train (90-220 Hz) through moving formants, in syllables with pauses."""
    from scipy.signal import lfilter

    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    pitch = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))
    source = (np.diff(np.floor(np.cumsum(pitch) / RATE), prepend=0) > 0).astype(float)
    source += 0.05 * rng.normal(size=n)
    signal = np.zeros(n)
    for formant in (rng.uniform(300, 800), rng.uniform(900, 1800)):
        r, theta = 0.97, 2 * np.pi * formant / RATE
        signal += lfilter([1.0], [1.0, -2 * r * np.cos(theta), r**2], source)
    syllables = (np.sin(2 * np.pi * rng.uniform(3, 5) * t) > -0.2) * (np.sin(2 * np.pi * 0.3 * t) > -0.6)
    return signal * syllables


def foreign_sounds(n_each: int, seed: int = 11) -> dict[str, list[bytes]]:
    rng = np.random.default_rng(seed)
    makers = {"noise": noise, "tones": tones, "speech_like": speech_like}
    return {name: [_wav(make(rng, rng.uniform(6, 15))) for _ in range(n_each)] for name, make in makers.items()}


def train(data: DataOptions, args, root: Path) -> tuple[Path, str]:
    config = TrainConfig(models=("custom_cnn",), epochs=args.epochs, weights="none", seed=42)
    run_id, _ = train_run(
        data,
        config,
        artifacts_dir=root,
        image=ImagePreprocessing(image_size=args.image_size),
        sound=SoundPreprocessing(),
    )
    return root, run_id


def evaluate(root: Path, run_id: str, foreign: dict[str, list]) -> dict:
    """Scores of the model's own test inputs and of each foreign set, through the TF-free predictor."""
    run = ArtifactsLayout(root).run(run_id)
    predictor = Predictor(run.dir, "custom_cnn")
    split = pd.read_csv(run.split)
    own = [predictor.predict(path).ood_score for path in split.loc[split["split"] == "test", "path"]]
    record = {"run_id": run_id, "n_test": len(own), "test_flagged": float(np.mean(np.array(own) > 1))}
    for name, inputs in foreign.items():
        scores = [predictor.predict(item).ood_score for item in inputs]
        labels = np.r_[np.zeros(len(own)), np.ones(len(scores))]
        record[name] = {
            "n": len(scores),
            "auroc": float(roc_auc_score(labels, np.r_[own, scores])),
            "flagged": float(np.mean(np.array(scores) > 1)),
        }
    return record


def run_pair(pair: str, args, work: Path) -> dict:
    if pair == "charts":
        folders = generate_demo_data(work / "demo", per_class=args.charts_per_class, seed=0)
        data = DataOptions(sources=(str(folders["audiograms"]),), name="synthetic-audiograms")
        return evaluate(*train(data, args, work / "charts"), {"throat_photos": throat_photos(args.n_foreign)})
    if pair == "throat":
        return evaluate(*train(DATASETS["throat"], args, work / "throat"), {"charts": fresh_charts(args.n_foreign)})
    return evaluate(*train(DATASETS["heart"], args, work / "heart"), foreign_sounds(args.n_foreign // 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="charts,throat,heart")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--charts-per-class", type=int, default=60)
    parser.add_argument("--n-foreign", type=int, default=150)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not SHARED.exists():
        raise SystemExit(f"error: {SHARED} not found; the OOD benchmark needs ../shared/data")
    record = {"cpu_cores": os.cpu_count(), "args": vars(args), "pairs": {}}
    with tempfile.TemporaryDirectory() as work:
        for pair in args.pairs.split(","):
            started = time.perf_counter()
            record["pairs"][pair] = {**run_pair(pair, args, Path(work)), "seconds": time.perf_counter() - started}
            save("ood", record)
    print("\n| model trained on | foreign inputs | n | OOD AUROC | foreign flagged | own test flagged (n) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for pair, result in record["pairs"].items():
        for name, foreign in ((k, v) for k, v in result.items() if isinstance(v, dict)):
            own = f"{result['test_flagged']:.1%} ({result['n_test']})"
            print(f"| {pair} | {name} | {foreign['n']} | {foreign['auroc']:.4f} | {foreign['flagged']:.1%} | {own} |")


if __name__ == "__main__":
    main()
