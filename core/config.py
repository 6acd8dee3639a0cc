"""Training options and the names they accept: light to import (no TensorFlow).

The CLI builds its help from here, and the dashboards read the same names.
Both option objects check themselves when built, so a wrong value stops the
command line and the Python API alike before any data is read or any run
folder exists (`core.errors.InvalidInput`, naming the CLI option).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidInput

BASELINE = "baseline"  # hand-crafted features + gradient boosting: what every CNN must beat
CUSTOM_CNN = "custom_cnn"
TRANSFER_MODELS = ("vgg16", "resnet50", "mobilenet_v2", "efficientnet_b0")
MODEL_NAMES = (BASELINE, CUSTOM_CNN, *TRANSFER_MODELS)
BLEND_SUFFIX = "_blend"  # "custom_cnn_blend": custom_cnn and the baseline, probabilities averaged
LOSSES = ("cross_entropy", "auroc")
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical", "none")
# Image augmentation strength: "mild" is small shifts and zoom only (charts such as audiograms); "auto" is
# "mild" when the training images look like charts or documents (`core.inputs.charts`), else "standard".
AUGMENT_MODES = ("auto", "standard", "mild", "none")
# Training precision: "auto" is mixed on GPUs with tensor cores, float32 elsewhere (`core.training.devices`).
PRECISIONS = ("auto", "float32", "mixed")
# A 95% percentile interval reads the 2.5% tails: with fewer resamples a tail holds
# at most one value, and the interval is noise.
MIN_BOOTSTRAP_RESAMPLES = 50
# Whole-number options: (CLI option, least value, most value or None).
_WHOLE_NUMBERS = {
    "epochs": ("--epochs", 1, None),
    "batch_size": ("--batch-size", 1, None),
    "patience": ("--patience", 0, None),
    "lr_patience": ("lr_patience", 0, None),
    "cache_views": ("--cache-views", 1, None),
    "fine_tune_epochs": ("--fine-tune-epochs", 0, None),
    "fine_tune_layers": ("--fine-tune-layers", 0, None),
    "seed": ("--seed", 0, 2**32 - 1),  # NumPy's seeds are unsigned 32-bit
    "bootstrap_resamples": ("--bootstrap-resamples", MIN_BOOTSTRAP_RESAMPLES, None),
}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)


def _check_whole(option: str, value: object, least: int, most: int | None) -> None:
    """`value` must be an int in [least, most]; bool is refused, though Python counts it an int."""
    in_range = isinstance(value, int) and not isinstance(value, bool) and value >= least
    in_range = in_range and (most is None or value <= most)
    bounds = f"at least {least}" if most is None else f"between {least} and {most}"
    _require(in_range, f"{option} must be a whole number {bounds}, got {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_split(fractions: tuple[float, ...]) -> None:
    """Train, validation and test fractions: three positive numbers summing to 1.

    >>> check_split((0.7, 0.2, 0.2))
    Traceback (most recent call last):
    core.errors.InvalidInput: --split fractions must be three positive numbers summing to 1, got (0.7, 0.2, 0.2)
    """
    valid = len(fractions) == 3 and all(_is_number(part) and part > 0 for part in fractions)
    _require(
        valid and abs(sum(fractions) - 1) <= 1e-6,
        f"--split fractions must be three positive numbers summing to 1, got {tuple(fractions)!r}",
    )


@dataclass(frozen=True)
class TrainConfig:
    """Options for training the models of one run.

    Attributes:
        models: Names from `MODEL_NAMES`, trained in this order after the
            baseline, which every run trains first (`run_models`).
        epochs: Most epochs of the main phase (head training for transfer models).
        batch_size: Items per step.
        learning_rate: Adam's starting rate.
        patience: Epochs without validation-loss improvement before stopping.
        lr_patience: Epochs without improvement before halving the rate.
        loss: "cross_entropy", or "auroc" (pairwise ranking surrogate; binary only).
        weights: "imagenet", "none", or a path: a weights file or a folder of them.
        weights_fallback: The ImageNet weights were asked for but could not be
            had (offline), so transfer models started from random weights
            (`weights` is then "none"); the pages say so.
        cache_views: Views per training item whose backbone features are cached
            for transfer models: the original plus `cache_views - 1` augmented.
        fine_tune_epochs: Epochs of end-to-end fine-tuning after the head; 0 skips it.
        fine_tune_layers: Weighted backbone layers unfrozen for fine-tuning.
        fine_tune_learning_rate: Adam's rate while fine-tuning.
        dropout: Dropout before the final dense layer.
        flip: Image flip augmentation ("horizontal", "vertical",
            "horizontal_and_vertical" or "none").
        augment: Image augmentation strength: "auto" (the default: "mild"
            when the training images look like charts or documents, else
            "standard"; sounds "standard"; the run records what it chose),
            "standard" (rotation, shifts, zoom, brightness, contrast), "mild"
            (small shifts and zoom only: charts, whose colours and
            orientation carry meaning) or "none".
        precision: "auto" (mixed precision on GPUs with tensor cores, float32
            on CPUs), "float32", or "mixed" (needs a GPU).
        seed: Seeds weights, shuffling, augmentation, the split and the bootstrap.
        target_sensitivity: Choose the two-class threshold as the highest one
            reaching this validation sensitivity; None uses Youden's J.
        bootstrap_resamples: Resamples for the 95% confidence intervals and paired tests.
        blend: Also make, for each model but the baseline, a blend of it and
            the baseline (`blends`: their raw probabilities averaged, weights
            0.5/0.5 fixed in advance), evaluated, compared and served like any
            model (`core.training.blend`). It costs no training: it is made
            from the parts' written predictions. On heart sounds the mean beat
            the CNN alone in every fold of a grouped 5-fold CV.
    """

    models: tuple[str, ...] = (CUSTOM_CNN,)
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 8
    lr_patience: int = 3
    loss: str = "cross_entropy"
    weights: str = "imagenet"
    weights_fallback: bool = False
    cache_views: int = 5
    fine_tune_epochs: int = 0
    fine_tune_layers: int = 20
    fine_tune_learning_rate: float = 1e-5
    dropout: float = 0.3
    flip: str = "horizontal"
    augment: str = "auto"
    precision: str = "auto"
    seed: int = 42
    target_sensitivity: float | None = None
    bootstrap_resamples: int = 1000
    blend: bool = True

    def __post_init__(self) -> None:
        unknown = [name for name in self.models if name not in MODEL_NAMES]
        _require(
            bool(self.models) and not unknown,
            f"unknown model(s) {', '.join(map(str, unknown)) or '(none)'}; choose from {', '.join(MODEL_NAMES)}",
        )
        repeated = sorted({name for name in self.models if list(self.models).count(name) > 1})
        _require(not repeated, f"--models names {', '.join(repeated)} more than once; list each model once")
        _require(self.loss in LOSSES, f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        _require(self.flip in FLIP_MODES, f"--flip must be one of {', '.join(FLIP_MODES)}, got {self.flip!r}")
        _require(
            self.augment in AUGMENT_MODES, f"--augment must be one of {', '.join(AUGMENT_MODES)}, got {self.augment!r}"
        )
        _require(
            self.precision in PRECISIONS,
            f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}",
        )
        _require(
            isinstance(self.weights, str) and bool(self.weights.strip()),
            f"--weights must be imagenet, none or a path, got {self.weights!r}",
        )
        _require(not self.weights_fallback or self.weights == "none", "weights_fallback needs weights 'none'")
        _require(isinstance(self.blend, bool), f"blend must be True or False, got {self.blend!r}")
        for name, (option, least, most) in _WHOLE_NUMBERS.items():
            _check_whole(option, getattr(self, name), least, most)
        for option, rate in (
            ("--learning-rate", self.learning_rate),
            ("fine_tune_learning_rate", self.fine_tune_learning_rate),
        ):
            _require(_is_number(rate) and rate > 0, f"{option} must be a positive number, got {rate!r}")
        _require(_is_number(self.dropout) and 0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout!r}")
        target = self.target_sensitivity
        _require(
            target is None or (_is_number(target) and 0 < target <= 1),
            f"--target-sensitivity must be a fraction in (0, 1], e.g. 0.9, got {target!r}",
        )

    @property
    def run_models(self) -> tuple[str, ...]:
        """The models a run trains: the baseline first, always, then the others in the order given.

        Every run's comparison includes the baseline (it costs seconds), so a
        CNN that does not beat a few summary statistics is seen to.

        >>> TrainConfig(models=("custom_cnn",)).run_models
        ('baseline', 'custom_cnn')
        """
        return (BASELINE, *(name for name in self.models if name != BASELINE))

    @property
    def blends(self) -> dict[str, str]:
        """The run's blends, made after every trained model: {blend name: the model blended with the baseline}.

        >>> TrainConfig(models=("custom_cnn",)).blends
        {'custom_cnn_blend': 'custom_cnn'}
        """
        if not self.blend:
            return {}
        return {f"{name}{BLEND_SUFFIX}": name for name in self.run_models if name != BASELINE}

    @property
    def blend_models(self) -> tuple[str, ...]:
        """The names of the run's blends (`blends`), written after the trained models (`run_models`)."""
        return tuple(self.blends)


@dataclass(frozen=True)
class DataOptions:
    """Where the data is and how to read it.

    Attributes:
        sources: Class-folder roots and/or CSV manifests.
        label_map: Label renames, e.g. {"mild": "hearing_loss"}.
        group_column: Manifest column holding the group.
        group_pattern: Regex over file names giving the group.
        positive_class: The class sensitivity refers to, for two classes;
            by default the one not named like "normal" or "healthy".
        split: Train, validation and test fractions.
        name: Dataset name shown in the dashboards; defaults to the first source's name.
        cv: Folds of grouped k-fold cross-validation (`core.training.cv`);
            None trains once on the `split`. With K folds every item is
            predicted once by a model that never saw it, and the served model
            is the ensemble of the K fold models.
    """

    sources: tuple[str, ...]
    label_map: dict[str, str] = field(default_factory=dict)
    group_column: str = "group"
    group_pattern: str | None = None
    positive_class: str | None = None
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    name: str | None = None
    cv: int | None = None

    def __post_init__(self) -> None:
        _require(
            bool(self.sources) and all(str(source).strip() for source in self.sources),
            "no data given: pass --data PATH (a class-folder root or a CSV manifest)",
        )
        _require(bool(self.group_column.strip()), "--group-column must name a column, got an empty name")
        check_split(self.split)
        if self.cv is not None:
            _check_whole("--cv", self.cv, 2, None)

    @property
    def dataset_name(self) -> str:
        if self.name:
            return self.name
        first = Path(self.sources[0])
        return first.parent.name if first.is_file() else first.name
