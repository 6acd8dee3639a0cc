"""A throw-away PostgreSQL server for tests, when Debian's postgresql package is installed and the tests run as root.

Each test module that needs one declares its own fixture around `postgres_cluster()`, which
skips the test when no cluster can be started; a module whose other fixtures are costly can
skip before them with `pytest.mark.skipif(unavailable() is not None, ...)`:

    @pytest.fixture(scope="module")
    def postgres_url():
        with postgres_cluster() as url:
            yield url
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from tests.support.servers import free_port


def _binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def unavailable() -> str | None:
    """Why no throw-away cluster can be started on this machine, or None when one can."""
    if _binaries() is None or shutil.which("runuser") is None or os.geteuid() != 0:
        return "needs Debian's postgresql package and root (to run the server as the postgres user)"
    return None


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A fresh cluster on a free local port, run as the `postgres` user; yield its `postgres://` URL.

    Skips the test when the server's binaries, `runuser` or root are missing.
    """
    reason, binaries = unavailable(), _binaries()
    if reason is not None:
        pytest.skip(reason)
    folder = tempfile.mkdtemp(prefix="pg-test-")
    shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    data = f"{folder}/data"
    try:
        _as_postgres(f"{binaries}/initdb", "-D", data, "-A", "trust", "-U", "postgres")
        options = f"-p {port} -k {folder} -h 127.0.0.1"
        _as_postgres(f"{binaries}/pg_ctl", "-D", data, "-l", f"{folder}/log", "-w", "start", "-o", options)
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        if os.path.exists(f"{data}/postmaster.pid"):
            _as_postgres(f"{binaries}/pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
