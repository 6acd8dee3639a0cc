"""What persists: the artifact layout under ARTIFACTS_DIR with its atomic I/O, reading runs back, the registry and the audit-log database.

May import: `core.errors`, `core.settings`, `core.data` (file kinds), SQLAlchemy.
Never imports TensorFlow, Keras, `core.training`, Flask or Dash.
"""
