"""The database's schema comes from the Alembic migrations, from empty and from a database made before Alembic."""

import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import core.store.audit_log
import core.store.serving_state  # noqa: F401  (its tables are part of the metadata compared)
from core.errors import Unavailable
from core.store.audit_log import AuditLog
from core.store.database import Base

ROOT = Path(__file__).resolve().parents[3]

HEAD = "0005"

# What `Base.metadata.create_all` made on SQLite before the schema was migrated with Alembic.
PRE_ALEMBIC_SCHEMA = """
CREATE TABLE schema_info (version INTEGER NOT NULL, PRIMARY KEY (version));
CREATE TABLE predictions (
    id VARCHAR(32) NOT NULL, created_at DATETIME NOT NULL, case_ref VARCHAR(200), filename VARCHAR(500),
    modality VARCHAR(10) NOT NULL, content_sha256 VARCHAR(64) NOT NULL, input_path VARCHAR(1000),
    run_id VARCHAR(200) NOT NULL, model VARCHAR(100) NOT NULL, predicted VARCHAR(200) NOT NULL,
    probabilities JSON NOT NULL, uncertain BOOLEAN NOT NULL, warnings JSON NOT NULL, PRIMARY KEY (id)
);
CREATE INDEX ix_predictions_case_ref ON predictions (case_ref);
CREATE INDEX ix_predictions_uncertain ON predictions (uncertain);
CREATE INDEX ix_predictions_run_id ON predictions (run_id);
CREATE INDEX ix_predictions_model ON predictions (model);
CREATE INDEX ix_predictions_created_at ON predictions (created_at);
CREATE INDEX ix_predictions_content_sha256 ON predictions (content_sha256);
CREATE TABLE feedback (
    id INTEGER NOT NULL, prediction_id VARCHAR(32) NOT NULL, created_at DATETIME NOT NULL,
    verdict VARCHAR(20) NOT NULL, correct_label VARCHAR(200), comment TEXT, user VARCHAR(200),
    PRIMARY KEY (id), FOREIGN KEY(prediction_id) REFERENCES predictions (id)
);
CREATE INDEX ix_feedback_prediction_id ON feedback (prediction_id);
INSERT INTO schema_info VALUES (1);
INSERT INTO predictions VALUES ('p1', '2026-01-01 10:00:00.000000', 'C-1', 'a.png', 'image', '%s', NULL,
    'run-1', 'custom_cnn', 'sick', '{"sick": 0.8, "well": 0.2}', 0, '[]');
INSERT INTO feedback VALUES (1, 'p1', '2026-01-01 11:00:00.000000', 'confirmed', 'sick', NULL, 'dr-a');
""" % ("ab" * 32)


def assert_schema_is_the_models(engine: Engine) -> None:
    """The migrated schema is exactly what the models declare, at the newest revision."""
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD


def test_an_empty_database_is_migrated_to_the_models_schema(tmp_path):
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    assert_schema_is_the_models(audit.engine)
    assert AuditLog(audit.url).count() == 0  # reopening at head migrates nothing


def test_a_database_made_before_alembic_is_stamped_then_upgraded_keeping_its_rows(tmp_path):
    path = tmp_path / "audit.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(PRE_ALEMBIC_SCHEMA)
    audit = AuditLog(f"sqlite:///{path}")
    assert_schema_is_the_models(audit.engine)
    row = audit.get("p1")
    assert (row["predicted"], row["feedback"], row["feedback_user"]) == ("sick", "confirmed", "dr-a")
    assert row["operating_point_version"] is None and row["review_band"] is None  # unknown before recording began


def test_processes_opening_a_fresh_database_at_once_all_succeed_at_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'audit.db'}"
    start = tmp_path / "start"
    opener = (
        "import pathlib, sys, time\n"
        "from core.store.database import open_database\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.01)\n"
        "open_database(sys.argv[1]).dispose()\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", opener, url, str(start)], cwd=ROOT, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    start.touch()  # all four were started and wait for it: they open the database together
    errors = [process.communicate(timeout=120)[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    assert_schema_is_the_models(AuditLog(url).engine)


def test_a_forked_child_opens_its_own_connections(tmp_path):
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    assert audit.count() == 0 and audit.engine.pool.checkedin() == 1  # the parent holds a pooled connection
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child() -> None:
        inherited = audit.engine.pool.checkedin()
        results.put((inherited, audit.write_problem(), audit.count()))

    process = context.Process(target=child)
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0 and results.get(timeout=5) == (0, None, 0)
    assert audit.count() == 0 and audit.write_problem() is None  # the parent's connection still works


def test_a_read_only_database_is_reported_and_refuses_to_record(tmp_path):
    path = tmp_path / "audit.db"
    AuditLog(f"sqlite:///{path}").engine.dispose()
    read_only = AuditLog(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert read_only.ping() and read_only.count() == 0
    problem = read_only.write_problem()
    assert problem.startswith("the audit database does not accept writes") and str(tmp_path) not in problem
    fields = {"modality": "image", "content_sha256": "ab" * 32, "run_id": "r", "model": "m"}
    with pytest.raises(Unavailable, match="the prediction was not recorded"):
        read_only.record(**fields, predicted="sick", probabilities={"sick": 1.0}, uncertain=False, warnings=[])
    assert read_only.count() == 0
