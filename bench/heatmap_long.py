"""A long recording's heatmap: every window explained (the old path) against its deciding windows, one process.

    python -m bench.heatmap_long RUN_DIR [MINUTES] [MODEL]

Generates a murmur recording of MINUTES (default 15) at the run's sample
rate, predicts it, then times `Predictor.predict(heatmap=True)` (the
`EXPLAINED_WINDOWS` deciding windows) and the old path (one occlusion map per
window, stitched), each including the prediction itself, on one LiteRT thread.
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np
import soundfile

from core.data.demo import heart_sound
from core.inputs.preprocess import band_pass, filtered_inputs, read_audio, resample
from core.serving.heatmap import occlusion_map, stitch_windows
from core.serving.predictor import Predictor


def _every_window(predictor: Predictor, data: bytes, target: int) -> np.ndarray:
    """The heatmap as it was made before: one occlusion map per window of the recording."""
    params = predictor.params
    signal, rate = read_audio(data)
    windows, starts = filtered_inputs(band_pass(resample(signal, rate, params.sample_rate), params), params)
    frames = np.round(starts * params.sample_rate / params.hop_length)
    return stitch_windows(np.stack([occlusion_map(predictor.runner, w, target, fill=0.0) for w in windows]), frames)


def main(run_dir: str, minutes: float = 15.0, model: str = "custom_cnn") -> None:
    predictor = Predictor(run_dir, model, max_audio_seconds=minutes * 60 + 1, num_threads=1)
    rate = predictor.params.sample_rate
    buffer = io.BytesIO()
    signal = heart_sound("murmur", np.random.default_rng(0), sample_rate=rate, seconds=minutes * 60)
    soundfile.write(buffer, signal, rate, "PCM_16", format="WAV")
    data = buffer.getvalue()
    start = time.perf_counter()
    plain = predictor.predict(data)
    predict_s = time.perf_counter() - start
    start = time.perf_counter()
    explained = predictor.predict(data, heatmap=True)
    new_s = time.perf_counter() - start
    start = time.perf_counter()
    _every_window(predictor, data, predictor.class_names.index(plain.predicted))
    old_s = time.perf_counter() - start + predict_s
    same = (explained.predicted, explained.probabilities) == (plain.predicted, plain.probabilities)
    print(
        f"{minutes:g} min, {plain.n_windows} windows: prediction {predict_s:.1f} s; with heatmap: every window "
        f"{old_s:.1f} s, {len(explained.explained_windows)} deciding windows {new_s:.1f} s "
        f"({old_s / new_s:.1f}x faster); class and probabilities unchanged: {same}"
    )


if __name__ == "__main__":
    main(sys.argv[1], *(float(a) for a in sys.argv[2:3]), *sys.argv[3:4])
