"""Out-of-distribution check: each prediction records its flag and score.

A withheld class is stored as an empty `predicted` (read back as None):
making the column nullable would rebuild the table on SQLite, which its
foreign keys from `feedback` refuse inside the migration's transaction.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as predictions:
        predictions.add_column(sa.Column("out_of_distribution", sa.Boolean(), nullable=True))
        predictions.add_column(sa.Column("ood_score", sa.Float(), nullable=True))
        predictions.create_index("ix_predictions_out_of_distribution", ["out_of_distribution"])


def downgrade() -> None:
    with op.batch_alter_table("predictions") as predictions:
        predictions.drop_index("ix_predictions_out_of_distribution")
        predictions.drop_column("ood_score")
        predictions.drop_column("out_of_distribution")
