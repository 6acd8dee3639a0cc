"""gunicorn settings for every way the apps are served (Procfile, `make run`, tests).

The platform's conventions: PORT to bind, WEB_CONCURRENCY workers,
GUNICORN_THREADS threads per worker, GUNICORN_TIMEOUT seconds per request.
Each worker loads the champion model once, right after it starts
(`post_worker_init`), so no request pays for it. `preload_app` imports the
apps once in the master before forking; see docs/deploy.md for the measured
memory with and without it.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").strip().lower() in {"1", "true", "yes", "on"}
graceful_timeout = 20
keepalive = 5
accesslog = None  # the apps log one structured line per request themselves
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
control_socket_disable = True  # unused; and several servers on one machine would share its path


def post_worker_init(worker):
    """Let the served module prepare this worker (load the model, prime the pages) before traffic."""
    import sys

    module = sys.modules.get(worker.app.app_uri.partition(":")[0])
    warm_up = getattr(module, "warm_up", None)
    if warm_up is not None:
        warm_up()
