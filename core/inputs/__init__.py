"""Stage 2, the inputs: turning files into model inputs and judging their quality, identically for training and serving.

Plain numpy, Pillow, soundfile and librosa. May import: `core.errors`.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash, because every serving worker imports it.
"""
