"""Shared core of the medical classifier: data, training, evaluation and serving.

Importing `core` is cheap: TensorFlow is imported only by the modules that
train (`core.training.models`, `core.training.augment`, `core.training.fit`, `core.training.pipeline`).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
