"""Both apps in one WSGI process: the prediction app at `/`, the analytics dashboard at `/analytics/`.

`gunicorn wsgi:application` (the Procfile's `web:` command) serves this. The
settings are read from the environment once, and each app is built once by
its factory. Each app can also be served alone: `gunicorn app_predict.app:server`
and `gunicorn app_train_dashboard.app:server`.
"""

from __future__ import annotations

import logging

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from app_predict import factory as predict_factory
from app_train_dashboard import factory as dashboard_factory
from core.settings import Settings
from core.web.warmup import prime

ANALYTICS_PREFIX = "/analytics"

settings = Settings.from_env()
logging.basicConfig(level=settings.log_level, format="%(message)s")
predict = predict_factory.create_app(settings)
dashboard = dashboard_factory.create_app(settings, requests_pathname_prefix=f"{ANALYTICS_PREFIX}/")
application = DispatcherMiddleware(predict.server, {ANALYTICS_PREFIX: dashboard.server})


def warm_up() -> None:
    """Prime both apps and load the champion model (gunicorn calls this in each worker)."""
    predict_factory.warm_up(predict)
    prime(dashboard.server)
