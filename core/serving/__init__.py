"""Stage 5, serving: the LiteRT runner, the TF-free predictor, heatmaps, the prediction service and its upload checks.

May import: `core.errors`, `core.settings`, `core.inputs`, `core.evaluation`, `core.store`.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash: every web worker imports it.
"""
