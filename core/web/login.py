"""Login when AUTH_USERS is set: HTTP Basic against Werkzeug password hashes, checked before every request.

`/healthz` stays open for the platform's health checks. Use HTTPS in front of
it (every PaaS router does). With no users configured the app runs open, and
the page says so.
"""

from __future__ import annotations

from flask import Flask, Response, g, has_request_context, jsonify, request
from werkzeug.security import check_password_hash

OPEN_PATHS = ("/healthz",)
# Set only by `core.web.warmup.prime` through the in-process test client: an
# HTTP client cannot put a key like this in the WSGI environ.
PRIMING = "core.web.priming"
REALM = 'Basic realm="medical-classifier", charset="UTF-8"'


def _authenticated(users: dict[str, str]) -> str | None:
    """The user whose Basic credentials this request carries, if they are right."""
    credentials = request.authorization
    if not credentials or credentials.type != "basic":
        return None
    hashed = users.get(credentials.username or "")
    if hashed and check_password_hash(hashed, credentials.password or ""):
        return credentials.username
    return None


def _login_required() -> Response:
    """401 with the Basic challenge: JSON under /api/, plain text for the pages."""
    if request.path.startswith("/api/"):
        response = jsonify(error="login required: send HTTP Basic credentials of a user in AUTH_USERS")
        response.status_code = 401
    else:
        response = Response("Login required.", 401, mimetype="text/plain")
    response.headers["WWW-Authenticate"] = REALM
    return response


def install(server: Flask, users: dict[str, str]) -> None:
    """Require one of `users` on every request except the open paths and start-up priming.

    No users means open access.
    """

    @server.before_request
    def require_login():
        g.user = None
        if not users or request.path in OPEN_PATHS or request.environ.get(PRIMING):
            return None
        g.user = _authenticated(users)
        return None if g.user else _login_required()


def current_user() -> str | None:
    """The logged-in user of the current request; None when open, or outside a request."""
    return getattr(g, "user", None) if has_request_context() else None
