"""gunicorn settings for every way the apps are served (Procfile, `make run`, tests).

The platform's conventions: PORT to bind, WEB_CONCURRENCY workers,
GUNICORN_THREADS threads per worker, GUNICORN_TIMEOUT seconds per request.
Each worker loads the champion model once, right after it starts
(`post_worker_init`), so no request pays for it. `preload_app` imports the
apps once in the master before forking; see docs/deploy.md for the measured
memory with and without it. The database schema is upgraded once, in the
master, before any worker starts (`on_starting`); each worker then opens its
own database connections (see `core.store.database`).
"""

import os
import sys

from core.errors import CoreError
from core.settings import Settings
from core.store.database import open_database


def _whole_number(name: str, default: str) -> int:
    """A positive whole number from the environment; a wrong one stops start-up with one line naming it."""
    raw = os.environ.get(name, default)
    if not raw.strip().isdigit() or int(raw) < 1:
        sys.exit(f"error: {name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


try:
    settings = Settings.from_env()  # checked here, before any worker starts, so a wrong value is one line
except CoreError as exc:
    sys.exit(f"error: {exc}")

bind = f"0.0.0.0:{_whole_number('PORT', '8000')}"
workers = _whole_number("WEB_CONCURRENCY", "2")
threads = _whole_number("GUNICORN_THREADS", "4")
timeout = _whole_number("GUNICORN_TIMEOUT", "60")
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").strip().lower() in {"1", "true", "yes", "on"}
graceful_timeout = 20
keepalive = 5
accesslog = None  # the apps log one structured line per request themselves
errorlog = "-"
loglevel = settings.log_level.lower()
control_socket_disable = True  # unused; and several servers on one machine would share its path


def on_starting(_server):
    """Upgrade the database schema once, before the workers start, so that they never migrate it themselves."""
    try:
        open_database(settings.audit_database_url).dispose()
    except CoreError as exc:
        sys.exit(f"error: {exc}")


def post_worker_init(worker):
    """Let the served module prepare this worker (load the model, prime the pages) before traffic."""
    module = sys.modules.get(worker.app.app_uri.partition(":")[0])
    warm_up = getattr(module, "warm_up", None)
    if warm_up is not None:
        warm_up()
