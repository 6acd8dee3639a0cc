"""`python -m core`: the command line, with TensorFlow's C++ start-up log quieted.

The variable must be set before anything imports TensorFlow, so it is set
here, in the entry point, and not by importing the `core` library.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # only errors from TensorFlow's C++ runtime

from core.cli import main  # noqa: E402  (after the environment is set, before TensorFlow is imported)

if __name__ == "__main__":
    sys.exit(main())
