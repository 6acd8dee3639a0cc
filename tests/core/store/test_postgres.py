"""The audit log against a real PostgreSQL server, when Debian's postgresql package is installed."""

import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from core.settings import Settings
from core.store.audit_log import AuditLog
from tests.core.store.test_audit_log import exercise
from tests.core.store.test_database import assert_schema_is_the_models
from tests.support.servers import free_port


def _binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL cluster on a free local port, run as the `postgres` user."""
    binaries = _binaries()
    if binaries is None or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs Debian's postgresql package and root (to run the server as the postgres user)")
    folder = tempfile.mkdtemp(prefix="pg-test-")
    shutil.chown(folder, "postgres", "postgres")
    port = free_port()

    def as_postgres(*command):
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)

    as_postgres(f"{binaries}/initdb", "-D", f"{folder}/data", "-A", "trust", "-U", "postgres")
    as_postgres(
        f"{binaries}/pg_ctl",
        "-D",
        f"{folder}/data",
        "-l",
        f"{folder}/log",
        "-w",
        "start",
        "-o",
        f"-p {port} -k {folder} -h 127.0.0.1",
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        as_postgres(f"{binaries}/pg_ctl", "-D", f"{folder}/data", "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_audit_log_on_postgresql(postgres_url):
    url = Settings(database_url=postgres_url).audit_database_url
    assert url.startswith("postgresql+psycopg://")
    audit = AuditLog(url)
    assert_schema_is_the_models(audit.engine)  # the Alembic migrations build the models' schema on PostgreSQL too
    exercise(audit)
