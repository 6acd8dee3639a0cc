"""The prediction app's frame for standalone serving: `app` and `server` over the environment's settings.

Run locally with `python -m app_predict.app`; serve alone with
`gunicorn app_predict.app:server` (`wsgi.py` serves it beside the dashboard).
Predictions go through LiteRT: the worker never imports TensorFlow.
"""

from __future__ import annotations

import logging

from app_predict import factory
from core.settings import Settings

settings = Settings.from_env()
logging.basicConfig(level=settings.log_level, format="%(message)s")
app = factory.create_app(settings)
server = app.server


def warm_up() -> None:
    """Prime the pages and load the champion (gunicorn calls this in each worker after it starts)."""
    factory.warm_up(app)


if __name__ == "__main__":
    app.run(debug=True)
