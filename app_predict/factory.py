"""Building the prediction app: the Dash page, the API, login and request logs, over given settings."""

from __future__ import annotations

from dash import Dash

from app_predict import api
from app_predict.callbacks import register_callbacks
from app_predict.layout import frame
from core.web import access
from core.serving.service import PredictionService
from core.settings import Settings


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
    access.log_requests(app.server)
    access.install(app.server, settings.users)
    api.install(app.server, service)
    return app
