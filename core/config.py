"""Training options and the names they accept: light to import (no TensorFlow).

The CLI builds its help from here, and the dashboards read the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CUSTOM_CNN = "custom_cnn"
TRANSFER_MODELS = ("vgg16", "resnet50", "mobilenet_v2", "efficientnet_b0")
MODEL_NAMES = (CUSTOM_CNN, *TRANSFER_MODELS)
LOSSES = ("cross_entropy", "auroc")
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical", "none")


@dataclass(frozen=True)
class TrainConfig:
    """Options for training the models of one run.

    Attributes:
        models: Names from `MODEL_NAMES`, trained in this order.
        epochs: Most epochs of the main phase (head training for transfer models).
        batch_size: Items per step.
        learning_rate: Adam's starting rate.
        patience: Epochs without validation-loss improvement before stopping.
        lr_patience: Epochs without improvement before halving the rate.
        loss: "cross_entropy", or "auroc" (pairwise ranking surrogate; binary only).
        weights: "imagenet", "none", or a path: a weights file or a folder of them.
        cache_views: Views per training item whose backbone features are cached
            for transfer models: the original plus `cache_views - 1` augmented.
        fine_tune_epochs: Epochs of end-to-end fine-tuning after the head; 0 skips it.
        fine_tune_layers: Weighted backbone layers unfrozen for fine-tuning.
        fine_tune_learning_rate: Adam's rate while fine-tuning.
        dropout: Dropout before the final dense layer.
        flip: Image flip augmentation ("horizontal", "vertical",
            "horizontal_and_vertical" or "none").
        seed: Seeds weights, shuffling, augmentation, the split and the bootstrap.
        target_sensitivity: Choose the two-class threshold as the highest one
            reaching this validation sensitivity; None uses Youden's J.
        bootstrap_resamples: Resamples for the 95% confidence intervals and paired tests.
    """

    models: tuple[str, ...] = (CUSTOM_CNN,)
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 8
    lr_patience: int = 3
    loss: str = "cross_entropy"
    weights: str = "imagenet"
    cache_views: int = 5
    fine_tune_epochs: int = 0
    fine_tune_layers: int = 20
    fine_tune_learning_rate: float = 1e-5
    dropout: float = 0.3
    flip: str = "horizontal"
    seed: int = 42
    target_sensitivity: float | None = None
    bootstrap_resamples: int = 1000


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
    """

    sources: tuple[str, ...]
    label_map: dict[str, str] = field(default_factory=dict)
    group_column: str = "group"
    group_pattern: str | None = None
    positive_class: str | None = None
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    name: str | None = None

    @property
    def dataset_name(self) -> str:
        if self.name:
            return self.name
        first = Path(self.sources[0])
        return first.parent.name if first.is_file() else first.name
