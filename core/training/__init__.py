"""Stage 3, training: model builders, augmentation, fitting, run orchestration and LiteRT export.

The only part of the project that imports TensorFlow and Keras. May import every other part of `core` except `core.web`.
Nothing outside `core.training` and the command line imports it.
"""
