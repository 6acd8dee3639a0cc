"""Stage 4, evaluation: metrics, the evaluation report, paired model comparisons and the decision rules.

Modules: `metrics` (pure functions), `report` (one model at one level),
`levels` (prediction frames; item, recording and window levels; a model's
report over them), `comparisons` (paired tests between models), `decision`.

Pure functions of labels and probabilities: numpy, pandas, SciPy and scikit-learn. May import: `core.errors`.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash; `decision` is numpy only, for the serving path.
"""
