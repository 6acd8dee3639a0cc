"""The analytics dashboard served alone: `app` and `server` over the environment's settings.

Run locally with `python -m app_train_dashboard.app`; serve with
`gunicorn app_train_dashboard.app:server`. It only reads ARTIFACTS_DIR.
Behind `wsgi.py` the same dashboard is built by `factory.create_app` instead.
"""

from __future__ import annotations

import logging

from app_train_dashboard.factory import create_app
from core.settings import Settings
from core.web.warmup import prime

settings = Settings.from_env()
logging.basicConfig(level=settings.log_level, format="%(message)s")
app = create_app(settings)
server = app.server


def warm_up() -> None:
    """Prime the page (gunicorn calls this in each worker after it starts)."""
    prime(server)


if __name__ == "__main__":
    app.run(debug=True)
