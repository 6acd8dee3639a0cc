"""Serving cost: the TensorFlow-free Predictor (LiteRT) against loading the Keras model.

Usage:
    python -m bench.serving [--predictions 200] [--threads 2]

Trains a 128x128 custom CNN on the synthetic audiograms (2 epochs, into a
temporary ARTIFACTS_DIR), then starts one fresh Python process per way of
serving and measures, in that process:

- cold start: imports, model load and the first prediction;
- p50 latency of the model call on one preprocessed image (LiteRT invoke
  against `model.predict`), and of the whole prediction from the file
  (decode, resize, quality checks, calibration), over --predictions calls;
- peak resident memory (VmHWM);
- for the Predictor, the time of one occlusion heatmap.

The baseline is `keras.models.load_model` + `model.predict` on one input,
with the same decoding and resizing. Both processes are pinned to --threads
CPU cores. Writes bench/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results_io import save


def _peak_rss_mb() -> float:
    """This process's resident-memory high-water mark (VmHWM; ru_maxrss is inherited across fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _p50_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2] * 1000


def _worker(mode: str, run_dir: str, image: str, predictions: int) -> None:
    started = time.perf_counter()
    from core.inputs.preprocess import image_to_input, load_image, preprocessing_from_dict
    from core.store.artifacts import read_json
    from core.store.layout import RunLayout

    run = RunLayout(Path(run_dir))
    params = preprocessing_from_dict(read_json(run.preprocessing))
    if mode == "litert":
        from core.serving.predictor import Predictor

        predictor = Predictor(run_dir, "custom_cnn")
        end_to_end = lambda: predictor.predict(image)  # noqa: E731
        model_call = lambda x: predictor.runner(x)  # noqa: E731
    else:
        import keras

        model = keras.models.load_model(run.model("custom_cnn").keras)
        model_call = lambda x: model.predict(x, verbose=0)  # noqa: E731
        end_to_end = lambda: model_call(image_to_input(load_image(image, params))[None])  # noqa: E731
    end_to_end()
    cold = time.perf_counter() - started
    x = image_to_input(load_image(image, params))[None]
    result = {
        "mode": mode,
        "cold_start_s": cold,
        "p50_model_ms": _p50_ms(lambda: model_call(x), predictions),
        "p50_end_to_end_ms": _p50_ms(end_to_end, predictions),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }
    if mode == "litert":
        result["heatmap_s"] = _p50_ms(lambda: predictor.predict(image, heatmap=True), 5) / 1000
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def train_demo_run(root: Path) -> tuple[Path, str, str]:
    """Train the benchmarks' model: a 128x128 custom CNN on the synthetic audiograms, 2 epochs, under `root`.

    Returns:
        (ARTIFACTS_DIR, run id, path of one audiogram to predict).
    """
    from core.config import DataOptions, TrainConfig
    from core.data.demo import generate_demo_data
    from core.inputs.preprocess import ImagePreprocessing
    from core.training.run import train_run

    folders = generate_demo_data(root / "data", per_class=20, seed=0)
    config = TrainConfig(models=("custom_cnn",), epochs=2, weights="none", flip="none", bootstrap_resamples=100)
    run_id, _ = train_run(
        DataOptions(sources=(str(folders["audiograms"]),)),
        config,
        artifacts_dir=root / "artifacts",
        image=ImagePreprocessing(image_size=128),
    )
    image = next((folders["audiograms"] / "normal").glob("*.png"))
    return root / "artifacts", run_id, str(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictions", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="CPU cores each serving process may use")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "RUN_DIR", "IMAGE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker, args.predictions)
        return

    from core.store.layout import ArtifactsLayout

    artifacts_dir, run_id, image = train_demo_run(Path(tempfile.mkdtemp(prefix="bench-serving-")))
    run_dir = ArtifactsLayout(artifacts_dir).run(run_id).dir
    cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[: args.threads])
    results = {}
    for mode in ("litert", "keras"):
        command = [
            "taskset",
            "-c",
            cores,
            sys.executable,
            "-m",
            "bench.serving",
            "--predictions",
            str(args.predictions),
            "--worker",
            mode,
            str(run_dir),
            image,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[mode] = json.loads(output.strip().splitlines()[-1])
    lite, base = results["litert"], results["keras"]
    record = {
        "cores": args.threads,
        "image_size": 128,
        "predictions": args.predictions,
        "results": results,
        "ratios": {
            "p50_model_call": round(base["p50_model_ms"] / lite["p50_model_ms"], 1),
            "p50_end_to_end": round(base["p50_end_to_end_ms"] / lite["p50_end_to_end_ms"], 1),
            "peak_rss": round(base["peak_rss_mb"] / lite["peak_rss_mb"], 1),
            "cold_start": round(base["cold_start_s"] / lite["cold_start_s"], 1),
        },
    }
    save("serving", record)


if __name__ == "__main__":
    main()
