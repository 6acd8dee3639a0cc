"""Which devices training runs on: the GPUs Keras' backend sees, with mixed precision where it helps.

- No GPU: nothing changes: float32, every op on the CPU.
- One GPU: the backend places every op on it by itself (TensorFlow and JAX
  both prefer a visible GPU), so no strategy is needed.
- Several GPUs (TensorFlow): `tf.distribute.MirroredStrategy`, one replica
  per GPU. `--batch-size` stays the global batch, split between the
  replicas, so one configuration means the same optimisation (steps per
  epoch, learning rate) on any machine; raise it to keep each GPU busy.

Mixed precision computes in 16 bits and keeps float32 weights; "auto" turns it
on only on GPUs with tensor cores (compute capability 7.0 or more), where it
roughly doubles the throughput of convolutions, and chooses bfloat16 on those
that have it (8.0 or more: no loss scaling needed). The probability layer is
float32 (`core.training.models`), and the model a run saves and exports is a
float32 twin (`core.training.models.float32_twin`).

This module imports no TensorFlow until asked which devices there are, so
the GPU benchmark (`bench/gpu_throughput.py`) runs on Keras' JAX backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import keras

from core.config import PRECISIONS
from core.errors import InvalidInput

FLOAT32, MIXED_FLOAT16, MIXED_BFLOAT16 = "float32", "mixed_float16", "mixed_bfloat16"
TENSOR_CORES = (7, 0)  # Volta: float16 tensor cores
BFLOAT16_CORES = (8, 0)  # Ampere: bfloat16 tensor cores too


@dataclass(frozen=True)
class Gpu:
    """One visible GPU: its model name and CUDA compute capability ((0, 0) when unknown)."""

    name: str
    capability: tuple[int, int]


@dataclass(frozen=True)
class Devices:
    """What one training runs on; `to_dict` is what the run records.

    Attributes:
        kind: "GPU" or "CPU".
        names: Each device's name (the GPU model, or "CPU").
        precision: The Keras dtype policy models are built with.
        strategy: "mirrored" (several GPUs, TensorFlow) or "default".
    """

    kind: str
    names: tuple[str, ...]
    precision: str
    strategy: str

    @property
    def count(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict:
        return {**asdict(self), "names": list(self.names), "count": self.count}

    def describe(self) -> str:
        """One line for logs and the command line: "CPU, float32" or e.g. "1 GPU (NVIDIA H100), mixed_bfloat16"."""
        if self.kind == "CPU":
            return f"CPU, {self.precision}"
        names = ", ".join(sorted(set(self.names)))
        spread = ", mirrored" if self.strategy == "mirrored" else ""
        return f"{self.count} {self.kind} ({names}), {self.precision}{spread}"

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build, compile and fit models inside this: their dtype policy, and the strategy's scope when mirrored.

        The global policy is restored afterwards, so what is built later (the
        augmenter, the float32 twin) stays float32.
        """
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision)
        try:
            with _strategy(self.strategy):
                yield
        finally:
            keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def _strategy(name: str) -> Iterator[None]:
    if name != "mirrored":
        yield
        return
    import tensorflow as tf

    with tf.distribute.MirroredStrategy().scope():
        yield


def visible_gpus() -> list[Gpu]:
    """The GPUs the current Keras backend can use; none for a backend without GPU support here."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        found = []
        for device in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(device)
            capability = tuple(details.get("compute_capability") or (0, 0))
            found.append(Gpu(details.get("device_name", device.name), capability))
        return found
    if backend == "jax":
        import jax

        return [
            Gpu(device.device_kind, _capability(getattr(device, "compute_capability", "0.0")))
            for device in jax.devices()
            if device.platform == "gpu"
        ]
    return []


def _capability(text: str) -> tuple[int, int]:
    """ "9.0" -> (9, 0), as JAX spells it."""
    major, _, minor = str(text).partition(".")
    return (int(major), int(minor or 0)) if major.isdigit() else (0, 0)


def choose_precision(option: str, gpus: list[Gpu]) -> str:
    """The dtype policy for `--precision` on these GPUs.

    >>> choose_precision("auto", [])
    'float32'
    >>> choose_precision("auto", [Gpu("NVIDIA H100", (9, 0))])
    'mixed_bfloat16'
    >>> choose_precision("auto", [Gpu("Tesla P100", (6, 0))])
    'float32'
    """
    if option not in PRECISIONS:
        raise InvalidInput(f"--precision must be one of {', '.join(PRECISIONS)}, got {option!r}")
    if option == FLOAT32 or not gpus:
        if option == "mixed":
            raise InvalidInput("--precision mixed needs a GPU, and none is visible; use auto or float32")
        return FLOAT32
    weakest = min(gpu.capability for gpu in gpus)
    if option == "auto" and weakest < TENSOR_CORES:
        return FLOAT32
    return MIXED_BFLOAT16 if weakest >= BFLOAT16_CORES else MIXED_FLOAT16


def training_devices(precision: str = "auto") -> Devices:
    """The devices training will use, and how, for a `--precision` option.

    Raises:
        InvalidInput: an unknown option, or "mixed" without a GPU.
    """
    gpus = visible_gpus()
    policy = choose_precision(precision, gpus)
    if not gpus:
        return Devices("CPU", ("CPU",), policy, "default")
    mirrored = len(gpus) > 1 and keras.config.backend() == "tensorflow"
    return Devices("GPU", tuple(gpu.name for gpu in gpus), policy, "mirrored" if mirrored else "default")
