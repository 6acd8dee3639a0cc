"""Login when AUTH_USERS is set: HTTP Basic against Werkzeug password hashes, checked before every request.

`/healthz` stays open for the platform's health checks. Use HTTPS in front of
it (every PaaS router does). With no users configured the app runs open, and
the page says so.

Guessing is slowed two ways. An unknown user name is checked against a dummy
hash of the same method and cost as the real ones, so a wrong name costs the
same time as a wrong password and the answer's timing does not tell which
names exist. Failed logins (credentials sent and refused) are rate-limited
with Flask-Limiter: `FAILED_PER_USER` per client address and user name; past
it the answer is 429 until the window moves on. There is no limit per address
alone: behind a PaaS router every client has the router's address, and such a
limit would let anyone lock every user out. The counts are kept in each
worker's memory, so every gunicorn worker (and every instance) counts on its
own: the effective limit is the figure times the number of workers.

Changing what is served (promoting, rolling back, saving an operating point)
is for analysts only when ANALYST_USERS names them (`require_analyst`): a
clinician's login must not be able to swap the model or close the review band.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, has_request_context, jsonify, request
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.util import get_remote_address
from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import CoreError
from core.web.security import refusal

OPEN_PATHS = ("/healthz",)
# Set only by `core.web.warmup.prime` through the in-process test client: an
# HTTP client cannot put a key like this in the WSGI environ.
PRIMING = "core.web.priming"
REALM = 'Basic realm="medical-classifier", charset="UTF-8"'
FAILED_PER_USER = "10 per minute"


def dummy_hash(users: dict[str, str]) -> str:
    """A hash of a random password with the method and cost of the users' own hashes (e.g. `scrypt:32768:8:1`)."""
    method = next(iter(users.values())).split("$", 1)[0]
    try:
        return generate_password_hash(secrets.token_urlsafe(16), method=method)
    except ValueError:  # a method this Werkzeug cannot make: its hashes never verify either
        return generate_password_hash(secrets.token_urlsafe(16))


def _authenticated(users: dict[str, str], dummy: str) -> str | None:
    """The user whose Basic credentials this request carries, if they are right.

    An unknown name is checked against `dummy`, so it takes as long as a known name with a wrong password.
    """
    credentials = request.authorization
    if not credentials or credentials.type != "basic":
        return None
    hashed = users.get(credentials.username or "")
    right = check_password_hash(hashed or dummy, credentials.password or "")
    return credentials.username if hashed and right else None


def _failed_login(response: Response) -> bool:
    """Whether this answer refused credentials that were sent (a first visit without any is no guess)."""
    return response.status_code == 401 and request.authorization is not None


def _address_and_user() -> str:
    credentials = request.authorization
    return f"{get_remote_address()}|{credentials.username if credentials else ''}"


def _too_many(_limit) -> Response:
    """429 after too many failed logins: JSON under /api/, plain text for the pages."""
    return refusal("too many failed logins for this user from this address; wait a minute and try again", 429)


def _limit_failed_logins(server: Flask) -> None:
    """Count failed logins per address and user name; refuse with 429 past the limit."""
    failed = ApplicationLimit(
        FAILED_PER_USER,
        key_function=_address_and_user,
        scope="failed-login",
        deduct_when=_failed_login,
        exempt_when=lambda: request.path in OPEN_PATHS or bool(request.environ.get(PRIMING)),
    )
    Limiter(get_remote_address, app=server, application_limits=[failed], storage_uri="memory://", on_breach=_too_many)


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

    No users means open access. Failed logins are rate-limited (see the module's docstring).
    """
    dummy = dummy_hash(users) if users else ""
    if users:
        _limit_failed_logins(server)

    @server.before_request
    def require_login():
        g.user = None
        if not users or request.path in OPEN_PATHS or request.environ.get(PRIMING):
            return None
        g.user = _authenticated(users, dummy)
        return None if g.user else _login_required()


class NotAnalyst(CoreError):
    """A change of what is served asked for by a user whom ANALYST_USERS does not name."""

    status = 403


def require_analyst() -> None:
    """Refuse a change of what is served unless the current user is an analyst of the answering app's settings.

    Both apps call it (the API's routes, the dashboard's callbacks) inside a
    request. No analysts named lets everyone: open apps have no identity to
    check, and with AUTH_USERS but no ANALYST_USERS every logged-in user may,
    as before the setting existed (the apps warn at start-up).

    Raises:
        NotAnalyst: ANALYST_USERS names analysts and the current user is not one of them (403).
    """
    analysts = current_app.extensions["settings"].analysts
    if analysts and current_user() not in analysts:
        raise NotAnalyst("only an analyst (ANALYST_USERS) may promote, roll back or change an operating point")


def current_user() -> str | None:
    """The logged-in user of the current request; None when open, or outside a request."""
    return getattr(g, "user", None) if has_request_context() else None
