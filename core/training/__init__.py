"""Stage 3, training: model builders, augmentation, fitting, run orchestration and LiteRT export.

Modules: `run` (`train_run`: one run from data sources to a complete run
directory, with `steps` shared by `cv` for `--cv K`), `encode` (threaded
preprocessing into the input cache: `shards`, evicted by `cache_folders`),
`models`, `augment` (plain Keras), `batches` (the `tf.data` feed), `fit`
(Keras), `baseline` (the scikit-learn model every run fits first), `devices`,
`export` (LiteRT export and its parity with Keras).

The only part of the project that imports TensorFlow and Keras. May import every other part of `core` except `core.web`.
Nothing outside `core.training` and the command line imports it.
"""
