"""The one database of the product: the engine, its schema's declarative base, and migrations to the newest schema.

Predictions, reviews and serving state (the champion, operating points) share
it: SQLite in ARTIFACTS_DIR by default, PostgreSQL (or any SQLAlchemy
database) through DATABASE_URL. Opening it upgrades the schema with the
Alembic migrations of `core/store/migrations`. A database made before
Alembic (tables present, no `alembic_version`) is first stamped at the
revision that matches it, then upgraded.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

from core.errors import Unavailable

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"  # the schema `create_all` made before Alembic


class Base(DeclarativeBase):
    """The tables of every repository of `core.store`."""


def open_database(url: str) -> Engine:
    """An engine over `url`, its schema upgraded to the newest revision.

    Raises:
        Unavailable: the database cannot be reached, created or upgraded.
    """
    try:
        engine = create_engine(url, pool_pre_ping=True)
        database = engine.url.database
        if engine.url.get_backend_name() == "sqlite":
            if database not in (None, "", ":memory:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            event.listen(engine, "connect", _sqlite_pragmas)
        upgrade(engine)
        return engine
    except (SQLAlchemyError, OSError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        raise Unavailable(f"cannot open the audit database ({reason})") from None


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; stamp a pre-Alembic database at `FIRST_REVISION` first."""
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "predictions" in tables and "alembic_version" not in tables:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, "head")


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets gunicorn workers read while one writes; foreign keys are off in SQLite by default."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
