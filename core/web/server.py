"""The Flask server under each Dash app: login, the request log and the app's services, built one way.

Both apps call `build_server` and hand the result to `Dash(server=...)`, so
login and logging cannot differ between them. Services the callbacks need
(the settings, the prediction service) are kept on the server and read back
inside a request with `service(name)`, so callbacks are plain module-level
functions instead of closures.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from core.settings import Settings
from core.web.login import install as install_login
from core.web.request_log import log_requests

VIEWPORT = [{"name": "viewport", "content": "width=device-width, initial-scale=1"}]


def build_server(name: str, settings: Settings, **services: Any) -> Flask:
    """A Flask server requiring login when `settings.users` is set, logging every request, holding `services`."""
    server = Flask(name)
    server.extensions["settings"] = settings
    server.extensions.update(services)
    log_requests(server)
    install_login(server, settings.users)
    return server


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
