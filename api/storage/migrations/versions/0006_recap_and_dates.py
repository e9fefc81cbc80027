"""plenos below the race's own level are recap steps, not official; facts known only by day keep their day

Revision ID: 0006
Revises: 0005_sync_findings
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005_sync_findings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tallies") as batch:
        batch.add_column(sa.Column("source_date", sa.Date(), nullable=True))
    op.execute(
        "UPDATE tallies SET status = 'recap' WHERE status = 'official' AND (source = 'pleno_kecamatan' OR "
        "(source = 'pleno_kabupaten' AND race_id IN (SELECT id FROM races WHERE kind <> 'pkwkk')))"
    )


def downgrade() -> None:
    op.execute("UPDATE tallies SET status = 'official' WHERE status = 'recap'")
    with op.batch_alter_table("tallies") as batch:
        batch.drop_column("source_date")
