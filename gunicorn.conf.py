"""gunicorn settings for every way the apps are served (Procfile, `make run`, tests).

The platform's conventions: PORT to bind, WEB_CONCURRENCY workers,
GUNICORN_THREADS threads per worker, GUNICORN_TIMEOUT seconds per request.
Each worker loads the champion model once, right after it starts
(`post_worker_init`), so no request pays for it. `preload_app` imports the
apps once in the master before forking; see docs/deploy.md for the measured
memory with and without it. The database schema is upgraded once, in the
master, before any worker starts (`on_starting`); each worker then opens its
own database connections (see `core.store.database`).

The worker is `core.web.buffered_worker.BufferedThreadWorker`: gthread's
threads, but a request reaches a thread only once its headers and body have
arrived, so clients that send slowly cannot hold every thread (docs/deploy.md,
"Slow clients").
"""

import ctypes
import ctypes.util
import os
import sys

from core.errors import CoreError
from core.settings import Settings
from core.store.database import open_database
from core.web.buffered_worker import BufferedThreadWorker


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
max_body = settings.max_upload_bytes * 4 // 3 + 2**20  # the page sends uploads base64-encoded
worker_class = type(
    "BufferedThreadWorker",
    (BufferedThreadWorker,),
    {"max_body_bytes": max_body, "max_buffered_bytes": 2 * max_body, "arrival_seconds": float(timeout)},
)
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


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 2**20


def post_fork(_server, _worker):
    """Give freed decode buffers back to the system at once (glibc only; elsewhere nothing changes).

    glibc raises its mmap threshold each time a large block is freed (up to
    32 MB), after which images and recordings are allocated in the threads'
    arenas, and freeing them keeps the memory in the process: a worker that
    decoded a 60 MB image grew by 100 MB for good. A fixed threshold keeps
    every allocation above 1 MB in its own mapping, returned when freed
    (docs/deploy.md, "Memory per upload").
    """
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def post_worker_init(worker):
    """Let the served module prepare this worker (load the model, prime the pages) before traffic."""
    module = sys.modules.get(worker.app.app_uri.partition(":")[0])
    warm_up = getattr(module, "warm_up", None)
    if warm_up is not None:
        warm_up()
