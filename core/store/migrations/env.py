"""Alembic's entry point: run the migrations on the connection `core.store.database.upgrade` hands over.

Migrations run only programmatically (the database is upgraded when it is
opened), so there is no `alembic.ini` and no offline (SQL script) mode.
"""

from alembic import context

from core.store.database import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
