"""Group commit: submissions arriving together are written in one transaction, each answered with its own outcome.

Real databases (SQLite and PostgreSQL) and the real use cases; the only fake is the broadcast seam, which records
what would be announced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.tokens import Role, create_token, revoke_token
from api.live.broadcast import Change
from api.read.catalog import Catalog
from api.storage.db import create_engine, sessionmaker
from api.storage.write_models import AuditEntry
from api.tallies.rollup_check import rollup_mismatches
from api.tallies.writer import RaceInfo
from api.write.entries import TpsEntry
from api.write.outcomes import Accepted, Conflict, Outcome, Refused, Rejected
from api.write.recording import submit_tps_tally
from api.write.submissions import Submissions, Work
from sirekap.belu import belu_2020

NOW = datetime(2020, 12, 9, 7, 0, tzinfo=UTC)


class RecordedBroadcast:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    async def publish(self, change: Change) -> None:
        self.changes.append(change)

    async def publish_many(self, changes: Sequence[Change]) -> None:
        self.changes += changes

    async def close(self) -> None:
        pass


@dataclass
class Writer:
    submissions: Submissions
    sessions: async_sessionmaker[AsyncSession]
    broadcast: RecordedBroadcast
    operator: str
    operator_prefix: str


@pytest.fixture
async def writer(belu_database_url: str) -> AsyncIterator[Writer]:
    engine = create_engine(belu_database_url)
    sessions = sessionmaker(engine)
    reads = sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    async with sessions.begin() as session:
        token, secret = await create_token(
            session, role=Role.OPERATOR, name="kpps", region_code="5304", paslon=None, now=NOW
        )
    broadcast = RecordedBroadcast()
    submissions = Submissions(sessions, broadcast, clock=lambda: NOW, catalog=Catalog(reads), reads=reads)
    try:
        yield Writer(submissions, sessions, broadcast, secret, token.prefix)
    finally:
        await engine.dispose()


def chasil(code: str, corrects: int | None = None, extra_invalid: int = 0, valid_bump: int = 0) -> Work:
    count = next(t.count for t in belu_2020().tps if t.code == code)
    entry = TpsEntry(
        tps_code=code,
        votes=dict(count.votes),
        valid=(count.valid or 0) + valid_bump,
        invalid=(count.invalid or 0) + extra_invalid,
        total=(count.total or 0) + extra_invalid,
        corrects_version=corrects,
    )
    return lambda session, catalog, principal, now: submit_tps_tally(session, catalog, principal, entry, now)


async def submit_all(writer: Writer, works: list[tuple[str | None, Work]]) -> list[Outcome]:
    return list(await asyncio.gather(*(writer.submissions.submit(s, "submitChasil", {}, w) for s, w in works)))


async def audit_count(writer: Writer) -> int:
    async with writer.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def rollup_problems(writer: Writer) -> list[str]:
    async with writer.sessions() as session:
        return await rollup_mismatches(session, await RaceInfo.load(session, 1))


async def test_a_burst_of_submissions_each_gets_its_own_outcome(writer: Writer) -> None:
    codes = [t.code for t in belu_2020().tps[:14]]
    token = writer.operator
    burst: list[tuple[str | None, Work]] = [(token, chasil(code)) for code in codes[:10]]
    burst += [
        (token, chasil(codes[10], valid_bump=7)),  # the counts no longer add up: rejected
        (token, chasil(codes[11], corrects=3)),  # names a version that does not exist: a conflict
        (token, chasil(codes[12])),  # two first entries of one TPS: one wins, the other conflicts
        (token, chasil(codes[12])),
        ("pantau_nope_nope", chasil(codes[13])),  # an unknown token
    ]
    audited = await audit_count(writer)  # the night's claims and plenos
    outcomes = await submit_all(writer, burst)

    assert all(isinstance(o, Accepted) and o.version == 1 and o.changed for o in outcomes[:10]), outcomes[:10]
    assert isinstance(outcomes[10], Rejected)
    assert outcomes[11] == Conflict(3, 0)
    pair = sorted(type(o).__name__ for o in outcomes[12:14])
    assert pair == ["Accepted", "Conflict"], outcomes[12:14]
    assert outcomes[14] == Refused("unknown token")
    assert await audit_count(writer) == audited + 11
    assert await rollup_problems(writer) == []
    assert sorted(c.subject_code for c in writer.broadcast.changes) == sorted([*codes[:10], codes[12]])

    corrections = await submit_all(writer, [(token, chasil(code, corrects=1, extra_invalid=1)) for code in codes[:10]])
    assert [(type(o).__name__, o.version if isinstance(o, Accepted) else None) for o in corrections] == [
        ("Accepted", 2)
    ] * 10
    (again,) = await submit_all(writer, [(token, chasil(codes[0], corrects=2, extra_invalid=1))])
    assert isinstance(again, Accepted) and (again.version, again.changed) == (2, False)  # a repeat writes nothing
    assert await audit_count(writer) == audited + 21
    assert await rollup_problems(writer) == []


async def test_a_revoked_token_writes_no_more_though_it_wrote_a_moment_ago(writer: Writer) -> None:
    first, second = belu_2020().tps[0].code, belu_2020().tps[1].code
    audited = await audit_count(writer)
    assert isinstance((await submit_all(writer, [(writer.operator, chasil(first))]))[0], Accepted)
    async with writer.sessions.begin() as session:
        await revoke_token(session, writer.operator_prefix, now=NOW)
    (refused,) = await submit_all(writer, [(writer.operator, chasil(second))])
    assert refused == Refused("this token has been revoked")
    (again,) = await submit_all(writer, [(writer.operator, chasil(second))])
    assert again == Refused("this token has been revoked")
    assert await audit_count(writer) == audited + 1


async def test_two_workers_racing_for_one_tps_let_one_win_and_keep_the_rest_of_their_groups(writer: Writer) -> None:
    """A second API process with its own groups: where both write one TPS, one group loses the race on the unique
    index and is written again one submission at a time, so its other submissions are accepted all the same."""
    other = Submissions(
        writer.sessions, writer.broadcast, clock=lambda: NOW, catalog=writer.submissions.catalog, reads=writer.sessions
    )
    tps = [t.code for t in belu_2020().tps[20:29]]
    shared, mine, theirs = tps[0], tps[1:5], tps[5:9]
    token = writer.operator
    outcomes = await asyncio.gather(
        *(writer.submissions.submit(token, "submitChasil", {}, chasil(code)) for code in [shared, *mine]),
        *(other.submit(token, "submitChasil", {}, chasil(code)) for code in [shared, *theirs]),
    )
    on_shared = sorted(type(outcomes[i]).__name__ for i in (0, 5))
    assert on_shared == ["Accepted", "Conflict"], outcomes
    assert all(isinstance(o, Accepted) and o.version == 1 for i, o in enumerate(outcomes) if i not in (0, 5))
    assert await rollup_problems(writer) == []
