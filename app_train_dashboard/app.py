"""The analytics dashboard's frame: `app`, `server` for gunicorn, the layout and the callbacks.

Run locally with `python -m app_train_dashboard.app`; serve with
`gunicorn app_train_dashboard.app:server`. It only reads ARTIFACTS_DIR.
"""

from __future__ import annotations

import logging

from dash import Dash

from app_train_dashboard.callbacks import register_callbacks
from app_train_dashboard.layout import layout
from core.web import access
from core.settings import Settings


def create_app(settings: Settings, *, requests_pathname_prefix: str | None = None) -> Dash:
    """A dashboard over `settings.artifacts_dir`, optionally served under a path prefix."""
    app = Dash(
        __name__,
        title="Model analytics",
        suppress_callback_exceptions=True,
        requests_pathname_prefix=requests_pathname_prefix,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = layout
    register_callbacks(app, settings)
    access.log_requests(app.server)
    access.install(app.server, settings.users)
    return app


settings = Settings.from_env()
logging.basicConfig(level=settings.log_level, format="%(message)s")
app = create_app(settings)
server = app.server


def warm_up() -> None:
    """Prime the page (gunicorn calls this in each worker after it starts)."""
    access.prime(server, "/_dash-layout")

if __name__ == "__main__":
    app.run(debug=True)
