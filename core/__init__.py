"""Shared core of the medical classifier: data, training, evaluation and serving.

Importing `core` is cheap and changes nothing in the process (no environment
variables, no logging set-up): TensorFlow is imported only by `core.training`.
Keras' default backend is TensorFlow; the command line (`python -m core`)
quiets TensorFlow's C++ log before anything imports it.
"""
