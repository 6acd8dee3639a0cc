"""Building the prediction app over given settings: its pages, the REST API, login and request logs.

`app_predict.app` (standalone serving) and `wsgi.py` (both apps in one
process) call `create_app`; gunicorn calls `warm_up` in each worker.
"""

from __future__ import annotations

import logging

from dash import Dash

from app_predict import api, pages
from app_predict.frame import frame
from core.errors import CoreError
from core.serving.service import PredictionService
from core.settings import Settings
from core.web.server import build_server, dash_options
from core.web.warmup import prime

TITLE = "Clinical classifier"
log = logging.getLogger(__name__)


def create_app(
    settings: Settings, *, requests_pathname_prefix: str | None = None, service: PredictionService | None = None
) -> Dash:
    """The prediction app (pages and API) over `settings`.

    Args:
        settings: Artifacts, audit database, upload limits and users.
        requests_pathname_prefix: The path the pages are served under, when
            another app holds "/".
        service: The prediction service to serve through; by default a new
            one over `settings`.

    Returns:
        The Dash app; its Flask server (`app.server`) also serves the API.
    """
    if settings.users and not settings.analysts:
        log.warning("AUTH_USERS is set but ANALYST_USERS is not: every logged-in user may change what is served")
    settings.mirror()  # with object storage, the registry's reads fetch runs through it
    server = build_server(__name__, settings, predictions=service or PredictionService(settings))
    app = Dash(
        __name__, server=server, use_pages=True, pages_folder="", **dash_options(TITLE, requests_pathname_prefix)
    )
    links = pages.register(app)
    access = f"Login required ({len(settings.users)} users)" if settings.users else "Open access: no login configured"
    app.layout = frame(TITLE, access, links)
    api.install(server)
    return app


def warm_up(app: Dash) -> None:
    """Prime the pages and load the champion's predictor, so that no request of this worker pays for either."""
    prime(app.server)
    try:
        app.server.extensions["predictions"].predictor()
    except CoreError as exc:
        log.warning("no model loaded at start-up: %s", exc)
