"""Each promotion pins the SHA-256 of the files its model is served from.

A champion is served only while its files still match the digest recorded
when an analyst promoted it (`core.store.pins`). The column is nullable:
champions promoted before it carry no pin and are served as before; promote
once to pin them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("champions") as champions:
        champions.add_column(sa.Column("files_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("champions") as champions:
        champions.drop_column("files_sha256")
