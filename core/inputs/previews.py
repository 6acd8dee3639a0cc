"""What a run stores to show a test item once its original file is gone: a picture, and for sounds the recording.

Training writes these into the run (`RunLayout.preview`), so the dashboard
reads ARTIFACTS_DIR only and a dataset folder may move or vanish afterwards.

- images: a PNG thumbnail, longest side at most `PREVIEW_SIDE` pixels;
- sounds: a PNG of the whole recording's log-mel spectrogram (as the model
  sees it, before windowing), and the recording as a mono 16-bit PCM WAV that
  a browser can play.

The prediction page also uses `icon_png` (small pictures on the example
buttons) and `band_frequencies` (the frequency axis of a spectrogram).
"""

from __future__ import annotations

import io
import wave

import numpy as np

from core.inputs.pictures import png_bytes, spectrogram_pixels, thumbnail
from core.inputs.preprocess import (
    Preprocessing,
    SoundPreprocessing,
    Source,
    band_pass,
    decode_image,
    log_mel,
    read_audio,
    resample,
)

PREVIEW_SIDE = 240
ICON_SIDE = 64
MAX_WAV_BYTES = 5_000_000
BROWSER_MIN_RATE = 3000  # Chromium refuses to play a WAV sampled below 3000 Hz
PLAYBACK_RATE = 8000
_WAV_HEADER_BYTES = 44


def previews(source: Source, params: Preprocessing) -> dict[str, bytes]:
    """The preview files of one input, by suffix: {".png": ...}, plus ".wav" for a sound.

    Raises:
        CoreError: the file cannot be decoded.
    """
    if isinstance(params, SoundPreprocessing):
        signal, rate = read_audio(source)
        return {".png": spectrogram_png(signal, rate, params), ".wav": playable_wav(signal, rate)}
    return {".png": png_bytes(thumbnail(decode_image(source), longest=PREVIEW_SIDE))}


def spectrogram_png(signal: np.ndarray, rate: int, params: SoundPreprocessing) -> bytes:
    """The recording's log-mel spectrogram with the run's parameters, as a PNG `PREVIEW_SIDE` wide, half as high."""
    resampled = band_pass(resample(signal, rate, params.sample_rate), params)
    padded = np.pad(resampled, (0, max(0, params.window_samples - len(resampled))))
    spectrogram = log_mel(padded[np.newaxis], params)[0, ..., 0]
    return png_bytes(spectrogram_pixels(spectrogram, width=PREVIEW_SIDE, height=PREVIEW_SIDE // 2))


def playable_wav(signal: np.ndarray, rate: int, *, max_bytes: int = MAX_WAV_BYTES) -> bytes:
    """A mono float signal in [-1, 1] as a 16-bit PCM WAV a browser plays, at most `max_bytes` long.

    Rates below `BROWSER_MIN_RATE` are resampled to `PLAYBACK_RATE`; a longer
    recording keeps its beginning, cut to fit `max_bytes`.
    """
    if rate < BROWSER_MIN_RATE:
        signal, rate = resample(signal, rate, PLAYBACK_RATE), PLAYBACK_RATE
    kept = signal[: max(0, (max_bytes - _WAV_HEADER_BYTES) // 2)]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(kept, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def band_frequencies(params: SoundPreprocessing) -> np.ndarray:
    """The centre frequency (Hz) of each of the `n_mels` bands of `log_mel`, lowest first, for a spectrogram's axis."""
    import librosa

    edges = librosa.mel_frequencies(params.n_mels + 2, fmin=params.fmin, fmax=params.fmax or params.sample_rate / 2)
    return edges[1:-1]


def waveform_pixels(signal: np.ndarray, *, width: int, height: int) -> np.ndarray:
    """The recording's envelope (peak level per column) drawn dark on white, as uint8 (height, width) pixels."""
    columns = np.array_split(np.abs(signal), width)
    peaks = np.array([float(c.max()) if len(c) else 0.0 for c in columns])
    peaks = peaks / peaks.max() if peaks.max() > 0 else peaks
    rows = np.abs(np.arange(height) - (height - 1) / 2)[:, np.newaxis]
    return np.where(rows <= np.maximum(peaks, 0.04) * (height - 1) / 2, 40, 255).astype(np.uint8)


def icon_png(source: Source, modality: str, *, side: int = ICON_SIDE) -> bytes:
    """A small picture of an input for a button: the image's thumbnail, or the recording's waveform.

    Raises:
        CoreError: the file cannot be decoded.
    """
    if modality == "sound":
        signal, _ = read_audio(source)
        return png_bytes(waveform_pixels(signal, width=side, height=side // 2))
    return png_bytes(thumbnail(decode_image(source), longest=side))
