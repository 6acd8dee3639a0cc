"""Building the analytics dashboard over given settings: the standalone frame and `wsgi.py` both call `create_app`."""

from __future__ import annotations

import functools

from dash import Dash
from dash.exceptions import DependencyException

from app_train_dashboard import selection
from app_train_dashboard.layout import layout
from app_train_dashboard.tabs import TABS
from core.settings import Settings
from core.store.database import open_database
from core.store.monitoring import Monitoring
from core.store.serving_state import ServingState
from core.web.server import build_server, dash_options, no_such_asset


def create_app(settings: Settings, *, requests_pathname_prefix: str | None = None) -> Dash:
    """A dashboard over `settings.artifacts_dir`, optionally served under a path prefix (e.g. "/analytics/").

    Args:
        settings: Where the artifacts and the database are, and who may log in.
        requests_pathname_prefix: The path the page is served under, when
            another app holds "/".

    Returns:
        The Dash app; its Flask server is `app.server`.
    """
    settings.mirror()  # with object storage, reading a run fetches it through this machine's mirror
    engine = open_database(settings.audit_database_url)
    server = build_server(__name__, settings, serving_state=ServingState(engine), monitoring=Monitoring(engine))
    app = Dash(__name__, server=server, **dash_options("Model analytics", requests_pathname_prefix))
    server.register_error_handler(DependencyException, no_such_asset)
    app.layout = functools.partial(layout, refresh_seconds=settings.dashboard_refresh_seconds)
    for module in (selection, *TABS):
        module.callbacks.attach(app)
    return app
