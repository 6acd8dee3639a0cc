"""One structured JSON line per request on the "access" logger, for both apps."""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, g, request

from core.web.login import current_user

access_log = logging.getLogger("access")


def log_requests(server: Flask) -> None:
    """Log method, path, status, duration, prediction id and user of every request `server` answers.

    A view that recorded a prediction puts its id in `request.environ["prediction_id"]`.
    """

    @server.before_request
    def start_timer():
        g.started = time.perf_counter()

    @server.after_request
    def log_request(response):
        started = getattr(g, "started", None)
        access_log.info(
            json.dumps(
                {
                    "method": request.method,
                    "path": request.script_root + request.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                    "prediction_id": request.environ.get("prediction_id"),
                    "user": current_user(),
                }
            )
        )
        return response
