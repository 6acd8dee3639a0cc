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

import contextlib
import io
import threading
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import InvalidInput

Source = str | Path | bytes | BinaryIO
# Image sides a model can take: the custom CNN halves its input three times, and
# above 1024 one float32 input is 12 MB, so a typo (2240 for 224) would exhaust memory mid-run.
IMAGE_SIZES = range(8, 1025)
AGGREGATIONS = ("mean", "max")
NORMALISATIONS = ("window", "recording", "zscore")
# What runs saved before these options existed did; never change these values.
LEGACY_SOUND = {"bandpass_hz": None, "normalisation": "window"}
BANDPASS_ORDER = 4  # Butterworth order; applied forwards and backwards, so 8 in effect and no phase shift
ZSCORE_CLIP = 3.0  # standard deviations kept by the "zscore" normalisation, mapped onto [0, 1]


@dataclass(frozen=True)
class ImagePreprocessing:
    """How an image becomes a model input.

    Attributes:
        image_size: Side of the square input, in pixels. Charts with thin lines
            need enough pixels for the lines to survive downsampling.
    """

    image_size: int = 224
    modality: str = "image"

    def __post_init__(self) -> None:
        if not isinstance(self.image_size, int) or self.image_size not in IMAGE_SIZES:
            raise InvalidInput(
                f"image size must be a whole number of pixels from {IMAGE_SIZES.start} to {IMAGE_SIZES.stop - 1}, "
                f"got {self.image_size!r}"
            )

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
        top_db: Dynamic range kept below the reference level, in dB.
        aggregation: How window probabilities combine into a recording's: "mean" or "max".
        bandpass_hz: (low, high) of a zero-phase Butterworth band-pass applied
            to the whole resampled recording before windowing, or None. It
            keeps hum and handling noise out of every window, but on the
            development heart sounds it cost AUROC (murmurs reach past
            400 Hz; docs/benchmarks.md, "Sound front-end"), so none is the default.
        normalisation: How a recording's gain is removed (all three are
            gain-free, so a quiet and a loud copy of one recording give the same
            inputs): "window" references each window to its own loudest bin
            (quiet windows are stretched up); "recording" references every
            window to the recording's loudest bin, so quiet stretches stay quiet;
            "zscore" standardises the recording's log-mel (mean 0, sd 1 over all
            its windows, clipped at `ZSCORE_CLIP` sd), which also removes a
            device's overall contrast.
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
    bandpass_hz: tuple[float, float] | None = None
    normalisation: str = "window"
    modality: str = "sound"

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mels", "n_fft", "hop_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"{name.replace('_', ' ')} must be a positive whole number, got {value!r}")
        if not 0 <= self.fmin < (self.fmax or self.sample_rate / 2):
            raise InvalidInput(f"fmin must be at least 0 Hz and below fmax, got {self.fmin!r} Hz")
        if not self.top_db > 0:
            raise InvalidInput(f"top_db must be positive, got {self.top_db!r}")
        if not 0 <= self.overlap < 1:
            raise InvalidInput(f"window overlap must be in [0, 1), got {self.overlap!r}")
        if self.window_seconds <= 0:
            raise InvalidInput(f"window length must be positive, got {self.window_seconds!r} s")
        if self.aggregation not in AGGREGATIONS:
            raise InvalidInput(f"aggregation must be one of {', '.join(AGGREGATIONS)}; got {self.aggregation!r}")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise InvalidInput(f"fmax {self.fmax} Hz is above the Nyquist frequency {self.sample_rate / 2} Hz")
        self._check_front_end()

    def _check_front_end(self) -> None:
        """Validate the band-pass and normalisation, storing the band as a tuple of floats (JSON gives a list)."""
        if self.normalisation not in NORMALISATIONS:
            raise InvalidInput(f"normalisation must be one of {', '.join(NORMALISATIONS)}; got {self.normalisation!r}")
        if self.bandpass_hz is None:
            return
        try:
            low, high = (float(value) for value in self.bandpass_hz)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"bandpass_hz must be two frequencies (low, high) in Hz, got {self.bandpass_hz!r}"
            ) from None
        if not 0 < low < high < self.sample_rate / 2:
            raise InvalidInput(
                f"bandpass_hz must satisfy 0 < low < high < {self.sample_rate / 2:g} Hz (the Nyquist frequency), "
                f"got {self.bandpass_hz!r}"
            )
        object.__setattr__(self, "bandpass_hz", (low, high))

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
    """Rebuild the parameters saved in a run's `preprocessing.json`.

    A sound run written before an option existed gets that option's behaviour
    of the time (`LEGACY_SOUND`), not today's default: a run is served exactly
    as it was trained, whatever the defaults have become since.
    """
    kind = {"image": ImagePreprocessing, "sound": SoundPreprocessing}.get(data.get("modality"))
    if kind is None:
        raise InvalidInput(f"unknown preprocessing modality {data.get('modality')!r}")
    return kind(**(LEGACY_SOUND | data if kind is SoundPreprocessing else data))


def _open(source: Source) -> BinaryIO | str | Path:
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source


# Decoding memory, for uploads. A PNG, TIFF or BMP is decoded at full size
# before it can be reduced, in Pillow's layout (4 bytes a pixel for RGB, RGBA,
# float and 32-bit modes; 2 for 16-bit); a recording is decoded whole, as
# float32. A decode above this is refused from the header, before any pixel or
# sample is read. A decode peaks at about 1.3 times its size, so with one at a
# time a gunicorn worker (about 200 MB after start) stays under 400 MB
# (docs/deploy.md, "Memory per upload"). It still admits an 8-bit RGB PNG of
# 16 megapixels, any 8-bit greyscale or palette PNG under the megapixel limit,
# and 15 minutes of sound at up to 18 kHz. JPEGs decode already reduced (draft
# mode), so their megapixel limit is the only one.
MAX_DECODE_BYTES = 64 * 2**20
# Decodes larger than this (images and recordings alike) run one at a time per
# process, so the threads of a worker never hold several full-size inputs at once.
LARGE_DECODE_BYTES = 16 * 2**20
_large_decodes = threading.Lock()
# Reduce (box-average) while decoding down to at least this many times the
# model's size, then resize with Lanczos: Pillow's advice for a result
# indistinguishable from resizing the full image.
REDUCING_GAP = 3.0
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _decoded_bytes(image: Image.Image) -> int:
    """The memory Pillow allocates to decode `image` at its (possibly draft) size."""
    per_pixel = 1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") else 4
    return image.width * image.height * per_pixel


def decode_image(source: Source, *, max_pixels: int | None = None, size: int | None = None) -> Image.Image:
    """Decode an image, apply its EXIF orientation and convert it to 8-bit RGB, in bounded memory.

    Args:
        max_pixels: Refuse images with more pixels, before decoding them. Given
            (for uploads), decoding memory is bounded too: above
            MAX_DECODE_BYTES an image is refused from its header, and large
            decodes take turns (LARGE_DECODE_BYTES).
        size: The model's input side. Given, the image is reduced while it is
            decoded to no less than REDUCING_GAP times this on each side (JPEG
            draft mode, then Pillow's box `reduce`), so the full-size pixels
            are never converted or copied. Training (`load_image`) and serving
            pass the same size, so both see the same pixels.

    Raises:
        InvalidInput: the content is not a readable image, or has too many
            pixels (`max_pixels`, Pillow's decompression-bomb limit, or more
            than MAX_DECODE_BYTES to decode).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_open(source)) as image:
                _check_pixels(image, max_pixels)
                image.seek(0)
                if size is not None and image.format == "JPEG":
                    image.draft(image.mode, (int(size * REDUCING_GAP), int(size * REDUCING_GAP)))
                with _decode_budget(image, bounded=max_pixels is not None):
                    image.load()
                    orientation = image.getexif().get(0x0112)
                    rgb = _reduced_rgb(image, size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = Image.MAX_IMAGE_PIXELS / 1e6
        raise InvalidInput(f"image is too large to decode safely (over {limit:.0f} megapixels)") from None
    except UnidentifiedImageError:  # Pillow's message names the file object, which means nothing to a person
        raise InvalidInput("not a readable image: damaged, or not an image format this app reads") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInput(f"not a readable image ({exc})") from None
    return rgb.transpose(ORIENTATIONS[orientation]) if orientation in ORIENTATIONS else rgb


def _check_pixels(image: Image.Image, max_pixels: int | None) -> None:
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        raise InvalidInput(
            f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), "
            f"above the {max_pixels / 1e6:.0f}-megapixel limit"
        )


def _decode_budget(image: Image.Image, *, bounded: bool) -> contextlib.AbstractContextManager:
    """For an upload (`bounded`): refuse above MAX_DECODE_BYTES, and take turns (`_taking_turns`).

    Training reads the user's own files and is bounded by Pillow's
    decompression-bomb limit only.
    """
    needed = _decoded_bytes(image)
    if not bounded:
        return contextlib.nullcontext()
    if needed > MAX_DECODE_BYTES:
        raise InvalidInput(
            f"image is too large to decode safely: {image.width}x{image.height} {image.mode} pixels need "
            f"{needed / 2**20:.0f} MB, above the {MAX_DECODE_BYTES / 2**20:.0f} MB limit; "
            "send it as a JPEG, or as an 8-bit PNG of fewer pixels"
        )
    return _taking_turns(needed)


def _taking_turns(needed: int) -> contextlib.AbstractContextManager:
    """One large decode at a time per process: several at once would multiply a worker's peak memory."""
    return _large_decodes if needed > LARGE_DECODE_BYTES else contextlib.nullcontext()


def _reduced_rgb(image: Image.Image, size: int | None) -> Image.Image:
    """8-bit RGB, box-reduced for a model of `size` px, converted strip by strip so no full-size copy is made."""
    factors = (1, 1)
    if size is not None:
        factors = tuple(max(1, int(side / size / REDUCING_GAP)) for side in image.size)
    scale = _wide_scale(image) if image.mode in WIDE_MODES else None
    width, height = image.size
    out = Image.new("RGB", (-(-width // factors[0]), -(-height // factors[1])))
    rows = factors[1] * max(1, 2**20 // (width * factors[1]))  # about a megapixel, whole reduction blocks
    for top in range(0, height, rows):
        strip = _to_rgb(image.crop((0, top, width, min(height, top + rows))), scale)
        out.paste(strip.reduce(factors) if factors != (1, 1) else strip, (0, top // factors[1]))
    return out


def _wide_scale(image: Image.Image) -> tuple[float, float]:
    """(low, high) of the finite pixel values of a 16-bit, 32-bit or float image, read strip by strip."""
    low, high = np.inf, -np.inf
    rows = max(1, 2**20 // image.width)
    for top in range(0, image.height, rows):
        pixels = np.asarray(image.crop((0, top, image.width, min(image.height, top + rows))), dtype=np.float64)
        finite = pixels[np.isfinite(pixels)]
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    if image.mode != "F":
        low = 0.0  # integer pixels keep their zero: a dim 16-bit image stays dim
    return (0.0, 1.0) if low > high else (low, high)


def _to_rgb(image: Image.Image, scale: tuple[float, float] | None = None) -> Image.Image:
    """RGB, compositing transparency on white, scaling 16-bit, 32-bit and float pixels by `scale` (low, high)."""
    if scale is not None:
        low, high = scale
        pixels = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=low, posinf=high, neginf=low)
        scaled = (np.clip(pixels, low, high) - low) * (255.0 / ((high - low) or 1.0))
        image = Image.fromarray(scaled.astype(np.uint8), mode="L")
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
    return resize_image(decode_image(source, size=params.image_size), params.image_size)


# Decoded samples an upload may have (MAX_DECODE_BYTES of float32, mono).
# Read in blocks and mixed to mono as it is read, so the channel count never
# multiplies it.
MAX_DECODE_SAMPLES = MAX_DECODE_BYTES // 4
AUDIO_BLOCK_FRAMES = 2**16


def read_audio(source: Source, *, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode a recording as mono float32 at its own sample rate, block by block.

    Args:
        max_seconds: Refuse longer recordings, from the header, before
            decoding them. Given (for uploads), a recording with more than
            MAX_DECODE_SAMPLES samples is refused too.

    Raises:
        InvalidInput: unreadable content, too long, no samples, or NaN/inf samples.
    """
    import soundfile

    try:
        with soundfile.SoundFile(_open(source)) as sound:
            turns = contextlib.nullcontext()
            if max_seconds is not None:
                _check_length(sound.frames, sound.samplerate, max_seconds)
                turns = _taking_turns(4 * sound.frames)
            with turns:
                signal, filled = _mono_samples(sound)
            rate = sound.samplerate
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a readable sound file ({exc})") from None
    if filled == 0:
        raise InvalidInput("the recording has no samples")
    return signal[:filled], int(rate)


def _mono_samples(sound) -> tuple[np.ndarray, int]:
    """(samples, how many were read) of an open SoundFile, mixed to mono block by block."""
    signal = np.empty(sound.frames, dtype=np.float32)
    filled = 0
    for block in sound.blocks(AUDIO_BLOCK_FRAMES, dtype="float32", always_2d=True):
        if not np.isfinite(block).all():
            raise InvalidInput("the recording contains NaN or infinite samples")
        count = min(len(block), len(signal) - filled)
        signal[filled : filled + count] = block[:count].mean(axis=1)
        filled += count
    return signal, filled


def _check_length(frames: int, rate: int, max_seconds: float) -> None:
    if frames > max_seconds * rate:
        raise InvalidInput(
            f"recording is {frames / rate / 60:.1f} min long, above the {max_seconds / 60:g}-minute limit"
        )
    if frames > MAX_DECODE_SAMPLES:
        raise InvalidInput(
            f"recording is too long to decode safely at {rate} Hz: at most {MAX_DECODE_SAMPLES / rate / 60:.1f} min "
            "at this sample rate; shorten it or resample it to a lower rate"
        )


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

    Levels are referenced to the loudest bin (of each window, or of the whole
    recording: `params.normalisation`), which removes recording gain (devices
    and sites differ), and `top_db` of range below it is kept. "window" keeps
    the original arithmetic exactly (runs trained with it are served with it),
    whose absolute floor can show in a very quiet, band-passed recording.
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
    if params.normalisation == "window":
        decibels = np.stack([librosa.power_to_db(s, ref=np.max, top_db=params.top_db) for s in power])
    else:  # divided first, so librosa's absolute floor (amin) never meets a quiet recording: exactly gain-free
        relative = power / max(float(power.max()), np.finfo(np.float32).tiny)
        decibels = librosa.power_to_db(relative, ref=1.0, top_db=params.top_db)
    if params.normalisation == "zscore":
        standard = (decibels - decibels.mean()) / max(float(decibels.std()), 1e-6)
        scaled = (np.clip(standard, -ZSCORE_CLIP, ZSCORE_CLIP) + ZSCORE_CLIP) / (2 * ZSCORE_CLIP)
    else:
        scaled = (decibels + params.top_db) / params.top_db
    return scaled.astype(np.float32)[..., np.newaxis]


def band_pass(signal: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """`signal` (at `params.sample_rate`) through the run's zero-phase Butterworth band-pass; unchanged without one.

    Filtered forwards and backwards (`sosfiltfilt`), so heart sounds keep their
    timing; second-order sections stay stable at the low cut-offs heart sounds
    need. The ends are padded with their mirror image (even padding: no step,
    unlike scipy's default odd padding) for three periods of the low cut-off,
    which keeps the filter's start-up ringing small.
    """
    if params.bandpass_hz is None or len(signal) < 2:
        return signal
    from scipy.signal import butter, sosfiltfilt

    low, _ = params.bandpass_hz
    sos = butter(BANDPASS_ORDER, params.bandpass_hz, btype="bandpass", fs=params.sample_rate, output="sos")
    padding = min(len(signal) - 1, int(3 * params.sample_rate / low))
    return np.ascontiguousarray(sosfiltfilt(sos, signal, padtype="even", padlen=padding), dtype=np.float32)


def sound_inputs(signal: np.ndarray, params: SoundPreprocessing) -> tuple[np.ndarray, np.ndarray]:
    """A mono signal at `params.sample_rate` to its (n_windows, n_mels, frames, 1) inputs and window starts (s).

    The one path from samples to model inputs, for training and serving alike:
    band-pass, windows, log-mel, normalisation.
    """
    return filtered_inputs(band_pass(signal, params), params)


def filtered_inputs(filtered: np.ndarray, params: SoundPreprocessing) -> tuple[np.ndarray, np.ndarray]:
    """`sound_inputs` of a signal already through `band_pass`, for serving, which checks the filtered signal first."""
    starts = window_starts(max(len(filtered), params.window_samples), params) / params.sample_rate
    return log_mel(frame_windows(filtered, params), params), starts


def load_sound(source: Source, params: SoundPreprocessing) -> tuple[np.ndarray, np.ndarray]:
    """A file or bytes to its (n_windows, n_mels, frames, 1) model inputs and window start times (s)."""
    return sound_inputs(decode_audio(source, params.sample_rate), params)


def aggregate_windows(window_probs: np.ndarray, aggregation: str = "mean") -> np.ndarray:
    """Combine (n_windows, n_classes) probabilities into one recording's (n_classes,)."""
    if aggregation == "max":
        combined = window_probs.max(axis=0)
        return combined / combined.sum()
    return window_probs.mean(axis=0)
