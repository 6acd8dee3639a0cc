"""Building the prediction app: the Dash page, the API, login and request logs, over given settings."""

from __future__ import annotations

import json
import logging
import time

from dash import Dash
from flask import Flask, g, request

from app_predict import api
from app_predict.callbacks import register_callbacks
from app_predict.layout import frame
from core import access
from core.service import PredictionService
from core.settings import Settings

access_log = logging.getLogger("app_predict.access")


def _log_requests(server: Flask) -> None:
    """One structured line per request on stdout: method, path, status, duration, prediction id."""

    @server.before_request
    def start_timer():
        g.started = time.perf_counter()

    @server.after_request
    def log_request(response):
        started = getattr(g, "started", None)
        access_log.info(json.dumps({
            "method": request.method, "path": request.path, "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "prediction_id": request.environ.get("prediction_id"), "user": access.current_user(),
        }))
        return response


def create_app(settings: Settings, *, requests_pathname_prefix: str | None = None, service: PredictionService | None = None) -> Dash:
    """The prediction app over `settings`, optionally under a path prefix."""
    service = service or PredictionService(settings)
    app = Dash(
        __name__,
        title="Clinical classifier",
        suppress_callback_exceptions=True,
        requests_pathname_prefix=requests_pathname_prefix,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    mode = f"Login required ({len(settings.users)} users)" if settings.users else "Open access: no login configured"
    app.layout = frame(mode)
    register_callbacks(app, service)
    _log_requests(app.server)
    access.install(app.server, settings.users)
    api.install(app.server, service)
    return app
