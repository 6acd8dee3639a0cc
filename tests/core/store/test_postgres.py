"""The audit log against a real PostgreSQL server, when Debian's postgresql package is installed."""

import pytest

from core.settings import Settings
from core.store.audit_log import AuditLog
from tests.core.store.test_audit_log import exercise
from tests.core.store.test_database import assert_schema_is_the_models
from tests.support.postgres import postgres_cluster


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield url


def test_audit_log_on_postgresql(postgres_url):
    url = Settings(database_url=postgres_url).audit_database_url
    assert url.startswith("postgresql+psycopg://")
    audit = AuditLog(url)
    assert_schema_is_the_models(audit.engine)  # the Alembic migrations build the models' schema on PostgreSQL too
    exercise(audit)
