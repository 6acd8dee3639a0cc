"""Stage 2, the inputs: files into model inputs, their quality, and pictures of them, the same for training and serving.

Modules: `formats` (the accepted file formats), `preprocess` (files to model
inputs; `as_model_input` is the one uint8-to-float rule), `features` (the
baseline's summary statistics of those inputs), `quality`,
`pictures` (PNG rendering of images and spectrograms), `previews` (what a run
stores to show a test item: a thumbnail or spectrogram, and a playable WAV),
`charts` (whether images look like charts or documents, for `--augment auto`).

Plain numpy, Pillow, soundfile and librosa. May import: `core.errors`.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash, because every serving worker imports it.
"""
