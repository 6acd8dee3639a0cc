"""Stage 3, training: model builders, augmentation, fitting, run orchestration and LiteRT export.

Modules: `run` (`train_run`: one run from data sources to a complete run
directory), `encode` (threaded preprocessing into arrays), `models`,
`augment`, `fit` (Keras), `export` (LiteRT export and its parity with Keras).

The only part of the project that imports TensorFlow and Keras. May import every other part of `core` except `core.web`.
Nothing outside `core.training` and the command line imports it.
"""
