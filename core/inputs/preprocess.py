"""Turning files into model inputs, identically for training and serving.

Plain numpy, Pillow, soundfile and librosa: no TensorFlow, so the serving
process can import this module and stay small. Every model input is float32
in [0, 1]:

- images: (size, size, 3) RGB;
- sounds: one (n_mels, frames, 1) log-mel spectrogram per window.

The parameters are dataclasses saved with each run (`preprocessing.json`), so
a served model sees exactly what it was trained on.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from core.errors import InvalidInput

Source = str | Path | bytes | BinaryIO


@dataclass(frozen=True)
class ImagePreprocessing:
    """How an image becomes a model input.

    Attributes:
        image_size: Side of the square input, in pixels. Charts with thin lines
            need enough pixels for the lines to survive downsampling.
    """

    image_size: int = 224
    modality: str = "image"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, 3)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SoundPreprocessing:
    """How a recording becomes a stack of log-mel spectrogram windows.

    Attributes:
        sample_rate: Recordings are resampled to this rate (Hz).
        window_seconds: Length of one model input; shorter recordings are padded.
        overlap: Fraction of a window shared with the next one.
        n_mels: Mel bands.
        n_fft: FFT size in samples.
        hop_length: Samples between spectrogram frames.
        fmin: Lowest mel frequency (Hz).
        fmax: Highest mel frequency (Hz); None means sample_rate / 2.
        top_db: Dynamic range kept below each window's peak, in dB.
        aggregation: How window probabilities combine into a recording's: "mean" or "max".
    """

    sample_rate: int = 4000
    window_seconds: float = 5.0
    overlap: float = 0.25
    n_mels: int = 64
    n_fft: int = 512
    hop_length: int = 128
    fmin: float = 20.0
    fmax: float | None = None
    top_db: float = 80.0
    aggregation: str = "mean"
    modality: str = "sound"

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < 1:
            raise InvalidInput(f"window overlap must be in [0, 1), got {self.overlap!r}")
        if self.window_seconds <= 0:
            raise InvalidInput(f"window length must be positive, got {self.window_seconds!r} s")
        if self.aggregation not in ("mean", "max"):
            raise InvalidInput(f"aggregation must be 'mean' or 'max', got {self.aggregation!r}")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise InvalidInput(f"fmax {self.fmax} Hz is above the Nyquist frequency {self.sample_rate / 2} Hz")

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return max(1, int(round(self.window_samples * (1 - self.overlap))))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        frames = 1 + self.window_samples // self.hop_length
        return (self.n_mels, frames, 1)

    def to_dict(self) -> dict:
        return asdict(self)


Preprocessing = ImagePreprocessing | SoundPreprocessing


def preprocessing_from_dict(data: dict) -> Preprocessing:
    """Rebuild the parameters saved in a run's `preprocessing.json`."""
    kind = {"image": ImagePreprocessing, "sound": SoundPreprocessing}.get(data.get("modality"))
    if kind is None:
        raise InvalidInput(f"unknown preprocessing modality {data.get('modality')!r}")
    return kind(**data)


def _open(source: Source) -> BinaryIO | str | Path:
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source


def decode_image(source: Source, *, max_pixels: int | None = None) -> Image.Image:
    """Decode an image, apply its EXIF orientation and convert it to RGB.

    Args:
        max_pixels: Refuse images with more pixels, before decoding them.

    Raises:
        InvalidInput: the content is not a readable image, or has too many pixels
            (`max_pixels`, or Pillow's decompression-bomb limit).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_open(source)) as image:
                width, height = image.size
                if max_pixels is not None and width * height > max_pixels:
                    raise InvalidInput(
                        f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), "
                        f"above the {max_pixels / 1e6:.0f}-megapixel limit"
                    )
                image.seek(0)
                image.load()
                oriented = ImageOps.exif_transpose(image)
                return _to_rgb(oriented)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"image is too large to decode safely ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInput(f"not a readable image ({exc})") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, compositing transparency on white and scaling 16-bit to 8-bit."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        top = pixels.max() or 1.0
        image = Image.fromarray((pixels * (255.0 / top)).astype(np.uint8), mode="L")
    elif image.mode == "F":
        pixels = np.nan_to_num(np.asarray(image, dtype=np.float64))
        span = float(pixels.max() - pixels.min()) or 1.0
        image = Image.fromarray(((pixels - pixels.min()) * (255.0 / span)).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resize_image(image: Image.Image, image_size: int) -> np.ndarray:
    """Resize to a square uint8 array with Lanczos filtering.

    Pillow widens the Lanczos kernel by the reduction factor, so downsampling
    averages over every source pixel: a 1-pixel chart line fades but stays,
    where nearest-neighbour sampling would drop most such lines.
    """
    resized = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


def image_to_input(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels to the float32 [0, 1] model input: the one place pixels are scaled."""
    return pixels.astype(np.float32) / 255.0


def as_model_input(x: np.ndarray) -> np.ndarray:
    """What a model takes, from the arrays training keeps in memory.

    Images are kept as uint8 (a quarter of the memory) and scaled by
    `image_to_input` batch by batch; spectrogram windows are float32 model
    inputs already and pass through unchanged.
    """
    return image_to_input(x) if x.dtype == np.uint8 else x


def load_image(source: Source, params: ImagePreprocessing) -> np.ndarray:
    """A file or bytes to a (size, size, 3) uint8 array, ready for `image_to_input`."""
    return resize_image(decode_image(source), params.image_size)


def read_audio(source: Source, *, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode a recording as mono float32 at its own sample rate.

    Args:
        max_seconds: Refuse longer recordings, before decoding them.

    Raises:
        InvalidInput: unreadable content, too long, no samples, or NaN/inf samples.
    """
    import soundfile

    try:
        if max_seconds is not None:
            stream = _open(source)
            info = soundfile.info(stream)
            if info.frames > max_seconds * info.samplerate:
                raise InvalidInput(
                    f"recording is {info.duration / 60:.1f} min long, above the {max_seconds / 60:g}-minute limit"
                )
            if hasattr(stream, "seek"):
                stream.seek(0)
            source = stream
        samples, rate = soundfile.read(_open(source), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a readable sound file ({exc})") from None
    if samples.size == 0:
        raise InvalidInput("the recording has no samples")
    if not np.isfinite(samples).all():
        raise InvalidInput("the recording contains NaN or infinite samples")
    return np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), int(rate)


def resample(signal: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`signal` at `target` Hz (soxr, high quality)."""
    if rate == target:
        return signal
    import librosa

    resampled = librosa.resample(signal, orig_sr=rate, target_sr=target, res_type="soxr_hq")
    return np.ascontiguousarray(resampled, dtype=np.float32)


def decode_audio(source: Source, sample_rate: int | None) -> np.ndarray:
    """Decode a recording as mono float32, resampled to `sample_rate` unless None."""
    signal, rate = read_audio(source)
    return signal if sample_rate is None else resample(signal, rate, sample_rate)


def window_starts(n_samples: int, params: SoundPreprocessing) -> np.ndarray:
    """Start sample of every window.

    Windows step by the hop; when the last regular window stops short of the
    end, one more window is aligned to the end so no audio is left out.
    """
    size, hop = params.window_samples, params.hop_samples
    if n_samples <= size:
        return np.array([0])
    starts = np.arange(0, n_samples - size + 1, hop)
    if starts[-1] + size < n_samples:
        starts = np.append(starts, n_samples - size)
    return starts


def frame_windows(signal: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Cut a mono signal into (n_windows, window_samples), zero-padding a short one."""
    size = params.window_samples
    if len(signal) < size:
        signal = np.pad(signal, (0, size - len(signal)))
    return np.stack([signal[start : start + size] for start in window_starts(len(signal), params)])


def log_mel(windows: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Log-mel spectrograms, one per window, as (n_windows, n_mels, frames, 1) in [0, 1].

    Each window is referenced to its own peak, which removes recording gain
    (devices and sites differ), and keeps `top_db` of range below it.
    """
    import librosa

    power = librosa.feature.melspectrogram(
        y=windows,
        sr=params.sample_rate,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        n_mels=params.n_mels,
        fmin=params.fmin,
        fmax=params.fmax,
        power=2.0,
    )
    decibels = np.stack([librosa.power_to_db(s, ref=np.max, top_db=params.top_db) for s in power])
    scaled = (decibels + params.top_db) / params.top_db
    return scaled.astype(np.float32)[..., np.newaxis]


def sound_inputs(signal: np.ndarray, params: SoundPreprocessing) -> tuple[np.ndarray, np.ndarray]:
    """A mono signal at `params.sample_rate` to its (n_windows, n_mels, frames, 1) inputs and window starts (s)."""
    starts = window_starts(max(len(signal), params.window_samples), params) / params.sample_rate
    return log_mel(frame_windows(signal, params), params), starts


def load_sound(source: Source, params: SoundPreprocessing) -> tuple[np.ndarray, np.ndarray]:
    """A file or bytes to its (n_windows, n_mels, frames, 1) model inputs and window start times (s)."""
    return sound_inputs(decode_audio(source, params.sample_rate), params)


def aggregate_windows(window_probs: np.ndarray, aggregation: str = "mean") -> np.ndarray:
    """Combine (n_windows, n_classes) probabilities into one recording's (n_classes,)."""
    if aggregation == "max":
        combined = window_probs.max(axis=0)
        return combined / combined.sum()
    return window_probs.mean(axis=0)
