import numpy as np
import soundfile
from PIL import Image

from core.data.demo import AUDIOGRAM_CLASSES, audiogram_thresholds, draw_audiogram, generate_demo_data, heart_sound


def test_generated_data_is_labelled_synthetic_and_readable(tmp_path):
    folders = generate_demo_data(tmp_path, per_class=2, seed=1)
    for folder in folders.values():
        assert folder.name.startswith("synthetic-")
        assert "SYNTHETIC" in (folder / "README.txt").read_text()
    charts = sorted(folders["audiograms"].rglob("*.png"))
    sounds = sorted(folders["heart_sounds"].rglob("*.wav"))
    assert len(charts) == 6 and len(sounds) == 4
    assert Image.open(charts[0]).size == (512, 512)
    info = soundfile.info(sounds[0])
    assert info.samplerate == 2000 and info.channels == 1


def test_audiogram_classes_differ_where_audiology_says_they_do():
    rng = np.random.default_rng(0)
    mean = {
        label: np.mean([audiogram_thresholds(label, rng) for _ in range(200)], axis=0) for label in AUDIOGRAM_CLASSES
    }
    low, k4, k8 = 0, 5, 7  # 250 Hz, 4 kHz, 8 kHz
    assert abs(mean["normal"][low] - mean["high_frequency_loss"][low]) < 5
    assert mean["high_frequency_loss"][k8] - mean["normal"][k8] > 30
    assert mean["noise_notch"][k4] - mean["normal"][k4] > 15
    assert mean["noise_notch"][k8] < mean["noise_notch"][k4]  # the notch recovers


def test_audiogram_marks_itself_synthetic_and_has_coloured_ears():
    pixels = np.asarray(draw_audiogram("normal", np.random.default_rng(3)))
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert red.sum() > 50 or ((pixels[..., 2] > 150) & (pixels[..., 0] < 90)).sum() > 50


def test_murmur_adds_systolic_energy_between_the_heart_sounds():
    def band_energy(label):
        rng = np.random.default_rng(5)
        total = 0.0
        for _ in range(10):
            signal = heart_sound(label, rng, seconds=6.0)
            spectrum = np.abs(np.fft.rfft(signal)) ** 2
            freqs = np.fft.rfftfreq(len(signal), 1 / 2000)
            total += spectrum[(freqs > 150) & (freqs < 450)].sum() / spectrum.sum()
        return total / 10

    assert band_energy("murmur") > 2 * band_energy("normal")
    signal = heart_sound("normal", np.random.default_rng(1), seconds=3.0)
    assert len(signal) == 6000 and np.abs(signal).max() <= 1.0
