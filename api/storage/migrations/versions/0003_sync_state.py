"""sync state: synced races, per-region sync progress, rejected documents

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.storage.models

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_races",
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("bootstrapped_at", api.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", api.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", api.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_reason", sa.String(length=500), nullable=True),
        sa.Column("upstream_ts", api.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tps_in", sa.Integer(), nullable=True),
        sa.Column("tps_total", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], name=op.f("fk_sync_races_race_id_races")),
        sa.PrimaryKeyConstraint("race_id", name=op.f("pk_sync_races")),
    )
    op.create_table(
        "sync_regions",
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=10), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=True),
        sa.Column("etag", sa.String(length=128), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("source_ts", api.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("synced_at", api.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], name=op.f("fk_sync_regions_race_id_races")),
        sa.PrimaryKeyConstraint("race_id", "region_code", name=op.f("pk_sync_regions")),
    )
    op.create_table(
        "sync_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("at", api.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], name=op.f("fk_sync_rejections_race_id_races")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_rejections")),
    )
    with op.batch_alter_table("sync_rejections", schema=None) as batch_op:
        batch_op.create_index("ix_sync_rejections_race_at", ["race_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_rejections", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_rejections_race_at")
    op.drop_table("sync_rejections")
    op.drop_table("sync_regions")
    op.drop_table("sync_races")
