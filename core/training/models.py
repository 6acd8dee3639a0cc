"""Model builders: the custom CNN and the transfer-learning models.

Every model takes the [0, 1] float input made by `core.inputs.preprocess` and ends in
a softmax over the classes. Builders neither compile nor load data.

Models built under a mixed-precision policy (`core.training.devices`) compute
in 16 bits but keep their probability layer in float32, where a softmax
needs the range; `float32_twin` gives the all-float32 model a run saves,
evaluates and exports.

A transfer model is `BackboneInput -> frozen backbone -> global average
pooling -> head`. The backbone and the head are separate `keras.Model`s so the
trainer can cache the pooled backbone features and fit the head alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from core.config import CUSTOM_CNN, MODEL_NAMES
from core.errors import InvalidInput, NotFound, Unavailable
from core.serving.litert import EMBEDDING, PROBABILITIES


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one `keras.applications` backbone.

    Attributes:
        constructor: Name of the constructor in `keras.applications`.
        input_mode: Pixel scaling the ImageNet weights expect: "caffe"
            (BGR, mean-subtracted), "tf" ([-1, 1]) or "raw" ([0, 255], the
            model normalises itself).
        weights_prefix: Start of the Keras weights file name, to find a local file.
        min_size: Smallest input side the architecture accepts.
    """

    constructor: str
    input_mode: str
    weights_prefix: str
    min_size: int = 32


BACKBONES = {
    "vgg16": BackboneSpec("VGG16", "caffe", "vgg16"),
    "resnet50": BackboneSpec("ResNet50", "caffe", "resnet50"),
    "mobilenet_v2": BackboneSpec("MobileNetV2", "tf", "mobilenet_v2"),
    "efficientnet_b0": BackboneSpec("EfficientNetB0", "raw", "efficientnetb0"),
}

_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# Keras' default 0.99 needs hundreds of steps before the inference statistics
# are usable; small medical sets give tens of steps per run.
BN_MOMENTUM = 0.9
# The custom CNN's pooled features: its embedding (`with_embedding`).
EMBEDDING_LAYER = "avg_pool"


@keras.saving.register_keras_serializable(package="core")
class BackboneInput(layers.Layer):
    """Map a [0, 1] image or spectrogram to the pixel scale an ImageNet backbone expects.

    Single-channel spectrograms are repeated to three channels. Kept as a
    layer so the saved and exported model takes the same input as the custom
    CNN, and serving never needs to know which backbone it runs.
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("caffe", "tf", "raw"):
            raise ValueError(f"mode must be 'caffe', 'tf' or 'raw', got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = inputs
        if x.shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)
        x = x * 255.0
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            bgr = keras.ops.flip(x, axis=-1)
            return bgr - keras.ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=x.dtype)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def build_custom_cnn(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    filters: tuple[int, ...] = (16, 32, 64, 128),
    dropout: float = 0.3,
    input_stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> keras.Model:
    """Convolution blocks with batch norm and dropout, then pooling and a dense softmax.

    The dense layer sits directly on the pooled last feature map (named
    `last_conv`), so class activation maps are exact: a heatmap is the dense
    weights applied to that map.

    Args:
        input_shape: (height, width, channels) of the [0, 1] input.
        num_classes: Size of the softmax.
        filters: Filters per block; each block halves the resolution.
        dropout: Rate before the dense layer; blocks use a third of it.
        input_stats: Per-channel (mean, variance) of the training inputs. The
            model standardises its input with them; without it, batch norm's
            inference statistics need many more steps than a small dataset
            gives to catch up with first-layer activations of tiny variance.
    """
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    if input_stats is not None:
        mean, variance = input_stats
        x = layers.Normalization(mean=mean, variance=variance, name="input_norm")(x)
    for block, width in enumerate(filters, start=1):
        for conv in (1, 2):
            name = "last_conv" if (block == len(filters) and conv == 2) else f"block{block}_conv{conv}"
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name=name)(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        if block < len(filters):
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
            x = layers.Dropout(dropout / 3, name=f"block{block}_dropout")(x)
    x = layers.GlobalAveragePooling2D(name=EMBEDDING_LAYER)(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=CUSTOM_CNN)


def build_backbone(name: str, input_shape: tuple[int, int, int], *, weights: str | Path | None) -> keras.Model:
    """A frozen `keras.applications` backbone with pooled output, taking [0, 1] input.

    Args:
        name: One of `BACKBONES`.
        input_shape: Shape of the [0, 1] input; one channel is allowed.
        weights: "imagenet", a local weights file, or None for random weights.

    Raises:
        InvalidInput: unknown name, input too small, or a weights file that does not fit.
        Unavailable: the ImageNet weights cannot be downloaded (offline).
    """
    spec = _spec(name)
    height, width, _ = input_shape
    if min(height, width) < spec.min_size:
        raise InvalidInput(f"{name} needs inputs of at least {spec.min_size}x{spec.min_size}, got {height}x{width}")
    constructor = getattr(keras.applications, spec.constructor)
    try:
        base = constructor(
            include_top=False,
            weights=None if weights is None else str(weights),
            input_shape=(height, width, 3),
        )
    except Exception as exc:
        failure = Unavailable if weights == "imagenet" else InvalidInput
        raise failure(_weights_failure(name, weights, exc)) from None
    base.trainable = False
    inputs = keras.Input(shape=input_shape, name="input")
    x = BackboneInput(spec.input_mode, name="backbone_input")(inputs)
    x = base(x, training=False)
    outputs = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, outputs, name=f"{name}_backbone")


def _spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise InvalidInput(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return BACKBONES[name]


def _weights_failure(name: str, weights: str | Path | None, exc: Exception) -> str:
    if weights == "imagenet":
        return (
            f"could not get the ImageNet weights for {name} ({str(exc).splitlines()[0][:200]}). "
            "Keras downloads them on first use, so this machine is probably offline. Either run once "
            "with network access (Keras keeps them in ~/.keras/models), pass --weights PATH to a local "
            f"'{_spec(name).weights_prefix}...notop' .h5 file or a folder of such files, "
            "or pass --weights none to start from random weights"
        )
    return f"could not load weights {weights} into {name}: {str(exc).splitlines()[0][:300]}"


def build_head(feature_dim: int, num_classes: int, *, dropout: float = 0.3, name: str = "head") -> keras.Model:
    """Batch norm, dropout and a dense softmax on pooled backbone features."""
    inputs = keras.Input(shape=(feature_dim,), name="features")
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="head_bn")(inputs)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def assemble(backbone: keras.Model, head: keras.Model, *, name: str) -> keras.Model:
    """The end-to-end model: backbone then head, sharing their layers and weights."""
    inputs = keras.Input(shape=backbone.input_shape[1:], name="input")
    return keras.Model(inputs, head(backbone(inputs)), name=name)


def _all_layers(model: keras.Model) -> Iterator[layers.Layer]:
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _as_float32(layer: layers.Layer) -> layers.Layer:
    return type(layer).from_config({**layer.get_config(), "dtype": "float32"})


def float32_twin(model: keras.Model, *, copy: bool = False) -> keras.Model:
    """The same model, computing in float32 with the same weights; `model` itself when it already does, unless `copy`.

    Mixed precision only speeds training up. LiteRT serves float32, and the
    export's parity check compares the served file with the model the run
    evaluated, so a run saves, evaluates and exports this twin. Its
    probabilities differ from the mixed-precision model's by 16-bit
    rounding, not by what was learnt. `copy` also gives a model trained
    under `MirroredStrategy` plain variables, made outside the strategy.
    """
    if not copy and all(layer.dtype_policy.name == "float32" for layer in _all_layers(model)):
        return model
    twin = keras.models.clone_model(model, clone_function=_as_float32, recursive=True)
    twin.set_weights(model.get_weights())
    return twin


def with_embedding(model: keras.Model) -> keras.Model:
    """The same model answering a dict of its probabilities and its penultimate embedding.

    The embedding is what the classifier head sees: the custom CNN's pooled
    last feature map, or a transfer model's pooled backbone features. The
    layers and weights are shared, so the probabilities are unchanged.
    Exported with named outputs, serving finds each by name
    (`core.serving.litert`) and the out-of-distribution check
    (`core.evaluation.ood`) reads the embedding.
    """
    if model.name == CUSTOM_CNN:
        outputs = {PROBABILITIES: model.output, EMBEDDING: model.get_layer(EMBEDDING_LAYER).output}
        return keras.Model(model.input, outputs, name=model.name)
    backbone, head = (layer for layer in model.layers if isinstance(layer, keras.Model))
    inputs = keras.Input(shape=model.input_shape[1:], name="input")
    features = backbone(inputs)
    return keras.Model(inputs, {PROBABILITIES: head(features), EMBEDDING: features}, name=model.name)


def unfreeze_top(backbone: keras.Model, n_layers: int) -> None:
    """Make the last `n_layers` weighted layers of the backbone trainable.

    Batch-norm layers stay frozen: with small medical batches their statistics
    would drift away from the ones the weights were trained with.
    """
    base = next(layer for layer in backbone.layers if isinstance(layer, keras.Model))
    base.trainable = True
    weighted = [layer for layer in base.layers if layer.weights]
    for layer in weighted[: max(0, len(weighted) - n_layers)]:
        layer.trainable = False
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def resolve_weights(option: str | None, model_name: str) -> str | Path | None:
    """Turn the `--weights` option into what `build_backbone` takes for one model.

    Args:
        option: "imagenet", "none"/None, a weights file, or a folder holding
            Keras' standard file names (e.g. `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`).
        model_name: The backbone the weights are for.

    Raises:
        NotFound: the path does not exist, or the folder has no file for this model.
    """
    if option is None or str(option).lower() == "none":
        return None
    if str(option).lower() == "imagenet":
        return "imagenet"
    path = Path(option)
    if path.is_file():
        return path
    if path.is_dir():
        prefix = _spec(model_name).weights_prefix
        matches = sorted(
            candidate
            for candidate in path.iterdir()
            if candidate.name.lower().startswith(prefix)
            and candidate.suffix == ".h5"
            and ("notop" in candidate.name or "no_top" in candidate.name)
        )
        if not matches:
            raise NotFound(
                f"no weights for {model_name} in {path}: expected a file named like "
                f"'{prefix}..._notop.h5' (Keras' own name for the no-top ImageNet weights)"
            )
        return matches[-1]
    raise NotFound(f"--weights {option!r} is neither imagenet, none, nor an existing file or folder")
