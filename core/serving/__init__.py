"""Stage 5, serving: the model runners, the TF-free predictor, heatmaps, the prediction service and its upload checks.

Runners: `litert` (the Keras models' `.tflite`), `baseline` (the baseline's
estimator), `runner` (their shared call shape, and which one a model needs).

May import: `core.errors`, `core.settings`, `core.inputs`, `core.evaluation`, `core.store`.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash: every web worker imports it.
"""
