"""A long recording's heatmap explains only its deciding windows: bounded cost, the answer unchanged."""

import io

import numpy as np
import soundfile

from core.data.demo import heart_sound
from core.serving.heatmap import deciding_windows, stitch_windows
from core.serving.predictor import EXPLAINED_WINDOWS, Predictor
from core.store.layout import ArtifactsLayout


class CountingRunner:
    """The real runner, counting the batches (one per occlusion map) and the model inputs that go through it."""

    def __init__(self, runner):
        self.runner, self.batches = runner, []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(len(batch))
        return self.runner(batch)

    def __getattr__(self, name: str):
        return getattr(self.runner, name)


def test_the_deciding_windows_are_the_most_probable_in_time_order():
    probs = np.array([0.1, 0.9, 0.3, 0.95, 0.2, 0.9])
    assert deciding_windows(probs, 3).tolist() == [1, 3, 5]
    assert deciding_windows(probs, 10).tolist() == list(range(6))  # a short recording is explained whole
    heat = stitch_windows(np.ones((2, 2, 4)), np.array([0, 8]), total=16)
    assert heat.shape == (2, 16) and heat[:, 4:8].max() == 0 and heat[:, 12:].max() == 0  # unexplained: no heat


def test_a_long_recording_explains_at_most_its_deciding_windows_and_keeps_its_answer(sound_run):
    artifacts_dir, run_id, _ = sound_run
    predictor = Predictor(ArtifactsLayout(artifacts_dir).run(run_id).dir, "custom_cnn", num_threads=1)
    rate = predictor.params.sample_rate
    buffer = io.BytesIO()
    soundfile.write(
        buffer,
        heart_sound("murmur", np.random.default_rng(3), sample_rate=rate, seconds=90),
        rate,
        "PCM_16",
        format="WAV",
    )
    data = buffer.getvalue()
    plain = predictor.predict(data)
    counting = predictor.runner = CountingRunner(predictor.runner)
    explained = predictor.predict(data, heatmap=True)
    assert plain.n_windows > 2 * EXPLAINED_WINDOWS
    assert (explained.predicted, explained.probabilities) == (plain.predicted, plain.probabilities)  # unchanged
    assert explained.heatmap.shape == explained.display.shape and explained.heatmap.max() == 1.0
    spans = explained.explained_windows
    assert len(spans) == EXPLAINED_WINDOWS and spans == sorted(spans)
    assert all(0 <= start < end <= 90 + predictor.params.window_seconds for start, end in spans)
    assert len(counting.batches) == EXPLAINED_WINDOWS  # one occlusion map per explained window, not per window
    assert len(set(counting.batches)) == 1 and counting.batches[0] > 1
    seconds_per_frame = predictor.params.hop_length / rate
    covered = np.zeros(explained.heatmap.shape[1], dtype=bool)
    for start, end in spans:
        covered[int(round(start / seconds_per_frame)) : int(round(end / seconds_per_frame))] = True
    assert explained.heatmap[:, ~covered].max() == 0  # heat only where a window was explained
    assert "explained_windows" not in explained.to_dict() and "heatmap" not in explained.to_dict()
