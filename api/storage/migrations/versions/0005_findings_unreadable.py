"""findings with a severity (tally_findings, tallies.anomaly_count), documents that cannot be read (sync_unreadable),
TPS whose DPT is not known yet (race_regions.tps_without_dpt)

Existing findings are copied into tally_findings with the severity of their kind: "invalid" is an anomaly; an
"incomplete" finding is a note when everything it misses is one of the optional voter-use fields, else incomplete.

Revision ID: 0005_sync_findings
Revises: 0004
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import api.storage.models

revision: str = "0005_sync_findings"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: As sirekap.tps_files.OPTIONAL_ADMINISTRASI_KEYS, frozen here so the migration means the same thing forever.
_OPTIONAL = tuple(f"{group}_{part}" for group in ("pengguna_dptb", "pengguna_non_dpt", "pengguna_total") for part in "jlp")


def upgrade() -> None:
    with op.batch_alter_table("tallies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anomaly_count", sa.Integer(), server_default=sa.text("0"), nullable=False))
    with op.batch_alter_table("race_regions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tps_without_dpt", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.create_table(
        "tally_findings",
        sa.Column("tally_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("subject_code", sa.String(length=13), nullable=False),
        sa.Column("source", sa.String(length=15), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], name=op.f("fk_tally_findings_race_id_races")),
        sa.ForeignKeyConstraint(
            ["tally_id"], ["tallies.id"], name=op.f("fk_tally_findings_tally_id_tallies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tally_id", "position", name=op.f("pk_tally_findings")),
    )
    with op.batch_alter_table("tally_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tally_findings_race_subject", ["race_id", "subject_code", "tally_id", "position"], unique=False
        )
    op.create_table(
        "sync_unreadable",
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=13), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("since", api.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", api.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], name=op.f("fk_sync_unreadable_race_id_races")),
        sa.PrimaryKeyConstraint("race_id", "code", name=op.f("pk_sync_unreadable")),
    )
    _copy_findings()
    _count_tps_without_dpt()


def _severity(finding: dict[str, Any]) -> str:
    if finding.get("severity") in ("anomaly", "incomplete", "note"):
        return str(finding["severity"])
    if finding.get("kind") == "invalid":
        return "anomaly"
    message = str(finding.get("message", ""))
    missing = message.removeprefix("cannot check: ").removesuffix(" missing").split(", ")
    optional = message.startswith("cannot check: ") and all(name in _OPTIONAL for name in missing)
    return "note" if optional else "incomplete"


def _copy_findings(chunk: int = 1000) -> None:
    bind = op.get_bind()
    tallies = sa.table(
        "tallies",
        sa.column("id", sa.Integer),
        sa.column("race_id", sa.Integer),
        sa.column("subject_code", sa.String),
        sa.column("source", sa.String),
        sa.column("findings", sa.JSON),
        sa.column("finding_count", sa.Integer),
        sa.column("anomaly_count", sa.Integer),
    )
    findings = sa.table(
        "tally_findings",
        *(sa.column(name) for name in ("tally_id", "position", "race_id", "subject_code", "source", "rule")),
        *(sa.column(name) for name in ("severity", "kind", "message")),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(tallies.c.id, tallies.c.race_id, tallies.c.subject_code, tallies.c.source, tallies.c.findings)
            .where(tallies.c.finding_count > 0, tallies.c.id > last)
            .order_by(tallies.c.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        copied, anomalies = [], []
        for tally_id, race_id, subject, source, found in rows:
            severities = [_severity(f) for f in found or []]
            copied += [
                {
                    "tally_id": tally_id,
                    "position": position,
                    "race_id": race_id,
                    "subject_code": subject,
                    "source": source,
                    "rule": str(f.get("check", ""))[:40],
                    "severity": severity,
                    "kind": str(f.get("kind", ""))[:10],
                    "message": str(f.get("message", ""))[:500],
                }
                for position, (f, severity) in enumerate(zip(found or [], severities, strict=True))
            ]
            anomalies.append({"tid": tally_id, "n": severities.count("anomaly")})
        if copied:
            bind.execute(sa.insert(findings), copied)
        bind.execute(
            sa.update(tallies).where(tallies.c.id == sa.bindparam("tid")).values(anomaly_count=sa.bindparam("n")),
            anomalies,
        )


def _count_tps_without_dpt() -> None:
    """TPS created by a sync before their DPT was known hold 0 registered voters: count them under each region."""
    bind = op.get_bind()
    zero = bind.execute(sa.text("SELECT race_id, code FROM tps WHERE registered_voters = 0")).all()
    counted: dict[tuple[int, str], int] = {}
    for race_id, code in zero:
        for n in (2, 4, 6, 10):
            counted[(race_id, code[:n])] = counted.get((race_id, code[:n]), 0) + 1
    if counted:
        bind.execute(
            sa.text("UPDATE race_regions SET tps_without_dpt = :n WHERE race_id = :race AND region_code = :code"),
            [{"n": n, "race": race, "code": code} for (race, code), n in sorted(counted.items())],
        )


def downgrade() -> None:
    op.drop_table("sync_unreadable")
    with op.batch_alter_table("tally_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_tally_findings_race_subject")
    op.drop_table("tally_findings")
    with op.batch_alter_table("race_regions", schema=None) as batch_op:
        batch_op.drop_column("tps_without_dpt")
    with op.batch_alter_table("tallies", schema=None) as batch_op:
        batch_op.drop_column("anomaly_count")
