"""The sound front-end options: band-pass, normalisation, and their round trip from training to serving."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from core.errors import InputUnjudgeable, InvalidInput
from core.evaluation.decision import apply_temperature
from core.inputs.preprocess import (
    LEGACY_SOUND,
    SoundPreprocessing,
    band_pass,
    load_sound,
    preprocessing_from_dict,
    sound_inputs,
)

RATE = 2000


def _tone(hz: float, seconds: float = 3.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _rms(signal: np.ndarray) -> float:
    middle = signal[len(signal) // 4 : -len(signal) // 4]  # away from the ends
    return float(np.sqrt(np.mean(middle.astype(np.float64) ** 2)))


def test_band_pass_keeps_an_in_band_tone_and_removes_an_out_of_band_one():
    params = SoundPreprocessing(sample_rate=RATE, bandpass_hz=(25, 400))
    kept, removed = band_pass(_tone(100.0), params), band_pass(_tone(800.0), params)
    assert _rms(kept) == pytest.approx(_rms(_tone(100.0)), rel=0.05)  # within half a decibel
    assert _rms(removed) < _rms(_tone(800.0)) / 100  # more than 40 dB down
    np.testing.assert_array_equal(band_pass(_tone(800.0), SoundPreprocessing(sample_rate=RATE)), _tone(800.0))


@pytest.mark.parametrize("normalisation", ["recording", "zscore"])
def test_a_quiet_and_a_loud_copy_of_a_recording_give_the_same_inputs(normalisation, rng):
    params = SoundPreprocessing(
        sample_rate=RATE, window_seconds=2.0, n_mels=32, n_fft=256, hop_length=64,
        bandpass_hz=(25, 400), normalisation=normalisation,
    )  # fmt: skip
    recording = (rng.normal(size=5 * RATE) * np.repeat(rng.uniform(0.1, 1.0, 10), RATE // 2)).astype(np.float32)
    loud, _ = sound_inputs(recording, params)
    quiet, _ = sound_inputs(recording * 1e-3, params)
    np.testing.assert_allclose(quiet, loud, atol=1e-4)
    assert loud.shape == (3, *params.input_shape) and loud.min() >= 0 and loud.max() <= 1


def test_recording_normalisation_keeps_quiet_windows_quiet_where_window_normalisation_stretches_them(rng):
    base = dict(sample_rate=RATE, window_seconds=1.0, overlap=0.0, n_mels=16, n_fft=128, hop_length=64)
    recording = rng.normal(size=2 * RATE).astype(np.float32)
    recording[RATE:] *= 0.01  # the second window is 40 dB quieter
    by_window, _ = sound_inputs(recording, SoundPreprocessing(**base))
    by_recording, _ = sound_inputs(recording, SoundPreprocessing(**base, normalisation="recording"))
    assert by_window[1].mean() == pytest.approx(by_window[0].mean(), abs=0.05)
    assert by_recording[1].mean() < by_recording[0].mean() - 0.3  # 40 of 80 dB: about half the range lower


def test_the_options_round_trip_through_a_runs_json_and_are_validated():
    params = SoundPreprocessing(bandpass_hz=[25, 400], normalisation="zscore", aggregation="max")
    assert params.bandpass_hz == (25.0, 400.0)
    assert preprocessing_from_dict(json.loads(json.dumps(params.to_dict()))) == params
    for bad, option in (
        ({"bandpass_hz": (400, 25)}, "bandpass_hz"),
        ({"bandpass_hz": (25, 2500)}, "bandpass_hz"),
        ({"bandpass_hz": "low"}, "bandpass_hz"),
        ({"normalisation": "peak"}, "normalisation"),
        ({"aggregation": "median"}, "aggregation"),
    ):
        with pytest.raises(InvalidInput, match=option):
            SoundPreprocessing(**bad)


def test_a_run_saved_before_the_options_existed_is_served_as_it_was_trained(rng):
    old = {k: v for k, v in SoundPreprocessing(sample_rate=RATE).to_dict().items() if k not in LEGACY_SOUND}
    params = preprocessing_from_dict(old)
    assert params.bandpass_hz is None and params.normalisation == "window"
    recording = rng.normal(size=3 * RATE).astype(np.float32)
    recording[RATE:] *= 0.01
    inputs, _ = sound_inputs(recording, params)
    for window in inputs:  # each window to its own peak: the old arithmetic
        assert window.max() == pytest.approx(1.0)


def _wav(signal: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, RATE, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def filtered_run(tmp_path_factory, demo_folders):
    """A baseline-only run on the demo heart sounds with a band-pass and z-score normalisation (seconds)."""
    from core.config import MIN_BOOTSTRAP_RESAMPLES, DataOptions, TrainConfig
    from core.inputs.preprocess import ImagePreprocessing
    from core.training.run import train_run

    sound = SoundPreprocessing(
        sample_rate=RATE, n_mels=32, n_fft=256, hop_length=128, window_seconds=4.0,
        bandpass_hz=(25, 400), normalisation="zscore",
    )  # fmt: skip
    artifacts_dir = tmp_path_factory.mktemp("frontend")
    run_id, _ = train_run(
        DataOptions(sources=(str(demo_folders["heart_sounds"]),)),
        TrainConfig(models=("baseline",), bootstrap_resamples=MIN_BOOTSTRAP_RESAMPLES),
        artifacts_dir=artifacts_dir,
        image=ImagePreprocessing(image_size=64),
        sound=sound,
    )
    return artifacts_dir, run_id, sound


def test_the_served_model_applies_the_options_the_run_was_trained_with(filtered_run, rng):
    from core.serving.predictor import Predictor
    from core.store.artifacts import read_json
    from core.store.layout import ArtifactsLayout

    artifacts_dir, run_id, sound = filtered_run
    layout = ArtifactsLayout(artifacts_dir).run(run_id)
    assert preprocessing_from_dict(read_json(layout.preprocessing)) == sound
    predictor = Predictor(layout.dir, "baseline")
    assert predictor.params == sound
    recorded = pd.read_csv(layout.model("baseline").predictions("test")).head(2)
    for _, row in recorded.iterrows():  # what training recorded for a test file is what serving answers
        raw = np.array([[row[f"prob_{c}"] for c in predictor.class_names]])
        expected = apply_temperature(raw, predictor.temperature)[0]
        served = predictor.predict(row["path"]).probabilities
        np.testing.assert_allclose(list(served.values()), expected, atol=1e-5)
    upload = (_tone(60.0, 6.0) + 0.05 * rng.normal(size=6 * RATE)).astype(np.float32)
    windows, _ = load_sound(_wav(upload), sound)
    by_hand = apply_temperature(predictor.runner.predict(windows).mean(axis=0)[None], predictor.temperature)[0]
    np.testing.assert_allclose(list(predictor.predict(_wav(upload)).probabilities.values()), by_hand, atol=1e-5)


def test_a_recording_with_no_sound_in_the_runs_band_is_refused(filtered_run):
    from core.serving.predictor import Predictor
    from core.store.layout import ArtifactsLayout

    artifacts_dir, run_id, _ = filtered_run
    predictor = Predictor(ArtifactsLayout(artifacts_dir).run(run_id).dir, "baseline")
    with pytest.raises(InputUnjudgeable, match="between 25 and 400 Hz"):
        predictor.predict(_wav(_tone(950.0, 6.0, amplitude=0.1)))  # a whistle far above the band
    assert predictor.predict(_wav(_tone(950.0, 6.0, amplitude=0.1) + _tone(80.0, 6.0, 0.1))).probabilities
