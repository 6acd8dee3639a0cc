"""What persists: the artifact layout under ARTIFACTS_DIR, atomic I/O, runs written and read, registry, audit log.

Modules: `layout` (the one owner of every file name), `artifacts` (atomic
writes, cached reads), `stamps` (time stamps, run ids), `run_writer`
(writing one run's files), `runs` (reading runs back), `registry` (the
champion, operating points), `examples`, `audit_log`.

May import: `core.errors`, `core.settings`, `core.inputs` (file formats), SQLAlchemy.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash.
"""
