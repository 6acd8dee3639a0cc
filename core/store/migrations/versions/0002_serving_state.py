"""Serving state in the database: the champion's history, operating-point versions, and what each prediction used.

`schema_info` gives way to Alembic's own `alembic_version`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _who_and_when() -> list[sa.Column]:
    return [
        sa.Column("user", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "champions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        *_who_and_when(),
    )
    op.create_table(
        "operating_points",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("review_low", sa.Float(), nullable=False),
        sa.Column("review_high", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        *_who_and_when(),
        sa.UniqueConstraint("run_id", "model", "version", name="uq_operating_points_version"),
    )
    with op.batch_alter_table("predictions") as predictions:
        predictions.add_column(sa.Column("operating_point_version", sa.Integer(), nullable=True))
        predictions.add_column(sa.Column("threshold", sa.Float(), nullable=True))
        predictions.add_column(sa.Column("review_band", sa.JSON(), nullable=True))
        predictions.add_column(sa.Column("user", sa.String(200), nullable=True))
    op.drop_table("schema_info")


def downgrade() -> None:
    op.create_table("schema_info", sa.Column("version", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO schema_info (version) VALUES (1)")
    with op.batch_alter_table("predictions") as predictions:
        for column in ("user", "review_band", "threshold", "operating_point_version"):
            predictions.drop_column(column)
    op.drop_table("operating_points")
    op.drop_table("champions")
