"""Stage 1, the data: finding labelled files, auditing them, splitting them without leakage, and synthetic demo data.

May import: `core.errors`, `core.config`, `core.inputs` (the audit decodes files to find unreadable ones).
Never imports TensorFlow, Keras, Flask or Dash.
"""
