"""Both apps in one WSGI process: the prediction app at `/`, the analytics dashboard at `/analytics/`.

`gunicorn wsgi:application` (the Procfile's `web:` command) serves this. Each
app can also be served alone: `gunicorn app_predict.app:server` and
`gunicorn app_train_dashboard.app:server`.
"""

from __future__ import annotations

from werkzeug.middleware.dispatcher import DispatcherMiddleware

import app_predict.app as predict
from app_train_dashboard.app import create_app as create_dashboard
from core.web import access

ANALYTICS_PREFIX = "/analytics"

dashboard = create_dashboard(predict.settings, requests_pathname_prefix=f"{ANALYTICS_PREFIX}/")
application = DispatcherMiddleware(predict.server, {ANALYTICS_PREFIX: dashboard.server})


def warm_up() -> None:
    """Prime both apps and load the champion model (gunicorn calls this in each worker)."""
    predict.warm_up()
    access.prime(dashboard.server, "/_dash-layout")
