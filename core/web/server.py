"""The Flask server under each Dash app: login, the request log, security headers, body limits and services.

Both apps call `build_server` and hand the result to `Dash(server=...)`, so
login, logging and the protections of `core.web.security` cannot differ
between them.

Request bodies are limited before they are read (`MAX_CONTENT_LENGTH`: a
longer `Content-Length` is refused with 413 without buffering anything): one
upload and a little form overhead (`BODY_MARGIN_BYTES`) for the API, and
`PAGE_BATCH_FILES` uploads, base64-encoded, for Dash's callback requests,
which carry the page's batch of files in one JSON body.

A JSON body nested deeper than Python's parser goes (`[[[[...]]]]`, 100,000
deep) is a decode error like any other malformed JSON (`NestingSafeJSON`):
400, or None for `get_json(silent=True)`, never a `RecursionError` and a 500.

A Dash callback request that the page could not have sent (not JSON, no
`output`, a callback the app does not have) is refused with 400 by
`core.web.callback_requests` before Dash reads it.

Services the callbacks need (the settings, the prediction service) are kept on the server and read back
inside a request with `service(name)`, so callbacks are plain module-level
functions instead of closures.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider

from core.settings import Settings
from core.web import callback_requests, security
from core.web.callback_requests import DASH_CALLBACK_PATH
from core.web.login import install as install_login
from core.web.request_log import log_requests

BODY_MARGIN_BYTES = 1024 * 1024
PAGE_BATCH_FILES = 10
VIEWPORT = [{"name": "viewport", "content": "width=device-width, initial-scale=1"}]


class NestingSafeJSON(DefaultJSONProvider):
    """Flask's JSON, where a body nested too deeply to parse is malformed JSON (`ValueError`), as it is."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply to read") from None


def build_server(name: str, settings: Settings, **services: Any) -> Flask:
    """A Flask server requiring login when `settings.users` is set, logging every request, holding `services`."""
    server = Flask(name)
    server.json = NestingSafeJSON(server)
    server.extensions["settings"] = settings
    server.extensions.update(services)
    log_requests(server)
    security.install(server)
    install_login(server, settings.users)
    _limit_bodies(server, settings)
    callback_requests.install(server)  # after the limits: it reads the body
    return server


def _limit_bodies(server: Flask, settings: Settings) -> None:
    """One upload plus `BODY_MARGIN_BYTES` per request; a page batch for Dash's callbacks."""
    upload = settings.max_upload_bytes
    server.config["MAX_CONTENT_LENGTH"] = upload + BODY_MARGIN_BYTES
    batch = PAGE_BATCH_FILES * (upload * 4 // 3 + 4) + BODY_MARGIN_BYTES

    @server.before_request
    def allow_page_batches():
        if request.path == DASH_CALLBACK_PATH:
            request.max_content_length = batch


def no_such_asset(_exc: Exception) -> Response:
    """404 for a script path Dash does not serve (a typo, a probe for `../`), not a 500 and a traceback in the log.

    Each app registers it for Dash's `DependencyException` (`core` imports no Dash).
    """
    return security.refusal("Not found.", 404)


def dash_options(title: str, requests_pathname_prefix: str | None) -> dict[str, Any]:
    """The `Dash(...)` keyword arguments both apps share."""
    return {
        "title": title,
        "suppress_callback_exceptions": True,
        "requests_pathname_prefix": requests_pathname_prefix,
        "meta_tags": VIEWPORT,
    }


def service(name: str) -> Any:
    """A service kept on the current request's server by `build_server` ("settings", "predictions", ...)."""
    return current_app.extensions[name]
