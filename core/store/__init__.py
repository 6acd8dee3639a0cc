"""What persists: immutable run files under ARTIFACTS_DIR, and the database of predictions and serving state.

Modules: `layout` (the one owner of every file name), `artifacts` (atomic
writes, cached reads), `stamps` (time stamps, run ids), `run_writer`
(writing one run's files), `runs` (reading runs back), `registry` (which
runs and models exist; checks before the champion or an operating point
changes), `examples`, `database` (the engine and its Alembic migrations in
`migrations/`), `audit_log` (predictions and reviews), `monitoring` (read-only
rates per served model over time, from the audit log), `serving_state` (the
champion's history, operating-point versions), `remote` (ARTIFACTS_DIR in
object storage: publishing complete runs, mirroring them locally).

May import: `core.errors`, `core.settings`, `core.inputs` (file formats),
`core.evaluation` (the promotion guardrails, Wilson intervals), SQLAlchemy, Alembic,
fsspec.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash.
"""
