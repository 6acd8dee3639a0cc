"""Refused uploads are recorded: each row may carry why it was refused, and the classes a reviewer may choose.

An upload refused by the quality gates (blank, tiny, silent, too short) is
kept as a row with `refused_reason` and no class or probabilities, so a
specialist can still label it; `classes` records the model's classes on
every new row, because a refused row has no probabilities to read them from.
Both columns are nullable: rows from before stay as they were.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as predictions:
        predictions.add_column(sa.Column("refused_reason", sa.String(500), nullable=True))
        predictions.add_column(sa.Column("classes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as predictions:
        predictions.drop_column("classes")
        predictions.drop_column("refused_reason")
