"""Predictions and feedback, exactly as `create_all` made them before Alembic.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("schema_info", sa.Column("version", sa.Integer(), primary_key=True))
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_ref", sa.String(200), nullable=True),
        sa.Column("filename", sa.String(500), nullable=True),
        sa.Column("modality", sa.String(10), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("input_path", sa.String(1000), nullable=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("predicted", sa.String(200), nullable=False),
        sa.Column("probabilities", sa.JSON(), nullable=False),
        sa.Column("uncertain", sa.Boolean(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
    )
    for column in ("created_at", "case_ref", "content_sha256", "run_id", "model", "uncertain"):
        op.create_index(f"ix_predictions_{column}", "predictions", [column])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("prediction_id", sa.String(32), sa.ForeignKey("predictions.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("correct_label", sa.String(200), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("user", sa.String(200), nullable=True),
    )
    op.create_index("ix_feedback_prediction_id", "feedback", ["prediction_id"])
    op.execute("INSERT INTO schema_info (version) VALUES (1)")


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("predictions")
    op.drop_table("schema_info")
