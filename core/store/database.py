"""The one database of the product: the engine, its schema's declarative base, and migrations to the newest schema.

Predictions, reviews and serving state (the champion, operating points) share
it: SQLite in ARTIFACTS_DIR by default, PostgreSQL (or any SQLAlchemy
database) through DATABASE_URL. Opening it upgrades the schema with the
Alembic migrations of `core/store/migrations`. A database made before
Alembic (tables present, no `alembic_version`) is first stamped at the
revision that matches it, then upgraded.

Processes: gunicorn upgrades the schema once in its master, before any
worker starts (`on_starting` in `gunicorn.conf.py`). An upgrade is still safe
when several processes open a database at once: it runs under a lock (a
PostgreSQL advisory lock, or a lock file beside a SQLite file), so the
second waits and then finds the schema at head. An engine's connections are
never shared across a fork: every engine is reset in a forked child
(`engine.dispose(close=False)`, as SQLAlchemy advises), so each gunicorn
worker opens its own connections after it starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import weakref
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

from core.errors import Unavailable

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"  # the schema `create_all` made before Alembic
MIGRATION_LOCK_KEY = 7_310_010  # PostgreSQL advisory lock held while the schema is upgraded
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()  # reset in a forked child; see `_after_fork`


class Base(DeclarativeBase):
    """The tables of every repository of `core.store`."""


def open_database(url: str) -> Engine:
    """An engine over `url`, its schema upgraded to the newest revision.

    Raises:
        Unavailable: the database cannot be reached, created or upgraded.
    """
    try:
        engine = create_engine(url, pool_pre_ping=True)
        if engine.url.get_backend_name() == "sqlite":
            file = sqlite_file(engine)
            if file is not None and not engine.url.query.get("uri"):
                file.parent.mkdir(parents=True, exist_ok=True)
            event.listen(engine, "connect", _sqlite_pragmas)
        upgrade(engine)
    except (SQLAlchemyError, OSError) as exc:
        raise Unavailable(f"cannot open the audit database ({describe(exc)})") from None
    _ENGINES.add(engine)
    return engine


def describe(exc: Exception) -> str:
    """A database error in one short line: its type and the first line of its message (never the SQL)."""
    first_line = next(iter(str(exc).splitlines()), "")
    return f"{type(exc).__name__}: {first_line[:200]}"


@contextlib.contextmanager
def unavailable_on_error(action: str) -> Iterator[None]:
    """Turn a failure of the database during `action` into `Unavailable` (503) that says what could not be done.

    Only errors the database driver raised (`DBAPIError`: unreachable,
    read-only, locked, full, no privilege); a value SQLAlchemy cannot store
    is a bug and stays one.

    Raises:
        Unavailable: the database refused or failed the work.
    """
    try:
        yield
    except DBAPIError as exc:
        raise Unavailable(
            f"{action}: the audit database failed ({describe(exc)}); retry, or ask the operator"
        ) from None


def sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite database (URI form `file:PATH?...` included), or None for an in-memory one."""
    database = engine.url.database or ""
    if engine.url.query.get("uri"):
        database = database.removeprefix("file:").partition("?")[0]
    return None if database in ("", ":memory:") else Path(database)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; stamp a pre-Alembic database at `FIRST_REVISION` first.

    Runs under `_migration_lock`, so processes that start together upgrade one after the other.
    """
    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # released when the transaction ends
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" in tables:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if current == ScriptDirectory.from_config(config).get_current_head():
                return  # up to date: nothing to run, and nothing for Alembic to log at every start
        elif "predictions" in tables:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """For a SQLite file, an exclusive lock on `<file>.lock` (SQLite's own locks do not cover DDL run by pysqlite).

    A separate file: closing a descriptor of the database itself would drop
    SQLite's own locks held by this process. A read-only URI
    (`mode=ro`) cannot migrate anything and takes no lock.
    """
    file = sqlite_file(engine) if engine.dialect.name == "sqlite" else None
    if file is None or engine.url.query.get("mode") == "ro":
        yield
        return
    with open(file.with_name(file.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _after_fork() -> None:
    """In a forked child (a gunicorn worker), forget the parent's pooled connections without closing them."""
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork)


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets gunicorn workers read while one writes; foreign keys are off in SQLite by default.

    The busy timeout comes first, so that switching to WAL waits for another process instead of failing.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
