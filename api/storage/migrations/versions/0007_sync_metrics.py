"""sync metrics: counters and gauges the syncer stores for every API process to export

Revision ID: 0005_sync_metrics
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sync_metrics"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_metrics",
        sa.Column("race", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("race", "name", "label", name=op.f("pk_sync_metrics")),
    )


def downgrade() -> None:
    op.drop_table("sync_metrics")
