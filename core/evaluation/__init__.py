"""Stage 4, evaluation: metrics, the evaluation report, paired model comparisons and the decision rules.

Pure functions of labels and probabilities: numpy, SciPy and scikit-learn. May import: `core.errors`.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash; `decision` is numpy only, for the serving path.
"""
