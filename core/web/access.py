"""Flask-level hooks shared by the web apps: login when AUTH_USERS is set, and start-up priming.

HTTP Basic authentication against Werkzeug password hashes, checked before
every request; `/healthz` stays open for the platform's health checks. Use
HTTPS in front of it (every PaaS router does). With no users configured the
app runs open, and the page says so.
"""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, Response, g, has_request_context, jsonify, request
from werkzeug.security import check_password_hash

OPEN_PATHS = ("/healthz",)
access_log = logging.getLogger("access")


def install(server: Flask, users: dict[str, str]) -> None:
    """Require one of `users` on every request except the open paths."""

    @server.before_request
    def require_login():
        g.user = None
        if not users or request.path in OPEN_PATHS:
            return None
        credentials = request.authorization
        if credentials and credentials.type == "basic":
            hashed = users.get(credentials.username or "")
            if hashed and check_password_hash(hashed, credentials.password or ""):
                g.user = credentials.username
                return None
        if request.path.startswith("/api/"):
            response = jsonify(error="login required: send HTTP Basic credentials of a user in AUTH_USERS")
            response.status_code = 401
        else:
            response = Response("Login required.", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Basic realm="medical-classifier", charset="UTF-8"'
        return response


def current_user() -> str | None:
    """The logged-in user of the current request; None when open, or outside a request."""
    return getattr(g, "user", None) if has_request_context() else None


def prime(server: Flask, path: str) -> None:
    """Answer one request before real traffic, so the app's lazy first-request set-up is done.

    Dash prepares its script registry on the first request, and a second
    thread of the same worker can be served before that finishes (a missing
    library error). Gunicorn calls this once per worker, after it starts.
    """
    server.test_client().get(path)


def log_requests(server: Flask) -> None:
    """One structured JSON line per request on stdout: method, path, status, duration, prediction id, user."""

    @server.before_request
    def start_timer():
        g.started = time.perf_counter()

    @server.after_request
    def log_request(response):
        started = getattr(g, "started", None)
        access_log.info(json.dumps({
            "method": request.method, "path": request.script_root + request.path, "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "prediction_id": request.environ.get("prediction_id"), "user": current_user(),
        }))
        return response
