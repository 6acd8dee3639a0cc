"""Transitional: `train_run` moved to `core.training.run`.

tests/conftest.py, bench/serving.py and bench/dashboard.py still import it
from here; delete this module once they import `core.training.run`.
"""

from core.training.run import train_run

__all__ = ["train_run"]
