"""The prediction app's frame: `app` and `server` for gunicorn, over the environment's settings.

Run locally with `python -m app_predict.app`; serve with
`gunicorn app_predict.app:server`. Predictions go through LiteRT: the worker
never imports TensorFlow.
"""

from __future__ import annotations

import logging

from app_predict.factory import create_app
from core.web import access
from core.errors import CoreError
from core.serving.service import PredictionService
from core.settings import Settings

settings = Settings.from_env()
logging.basicConfig(level=settings.log_level, format="%(message)s")
service = PredictionService(settings)
app = create_app(settings, service=service)
server = app.server


def warm_up() -> None:
    """Load the champion's predictor and prime the page (gunicorn calls this in each worker after it starts)."""
    access.prime(server, "/_dash-layout")
    try:
        service.predictor()
    except CoreError as exc:
        logging.getLogger(__name__).warning("no model loaded at start-up: %s", exc)


if __name__ == "__main__":
    app.run(debug=True)
