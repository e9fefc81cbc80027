"""The boundary of every write: authentication, idempotency, the transaction and the broadcast.

A submission authenticates its bearer token, answers a retried idempotency key from the stored outcome, runs one
use case of `api.write.recording`, and commits only an accepted write (with its audit entry and its idempotency
key). By default writes are committed in groups: each submission is checked and planned in its own task (reading
only, its token known from before if it was seen), and the plans made while a group is being written are applied
together in the next transaction (`api.write.planned`): one read of their current versions, one audit insert, one
tally insert and one update of each rollup row for all of them, each still answered with its own outcome. That
transaction checks that no token of the group has been revoked. A group that fails as a whole (a lost race,
anything unexpected) is written again one submission at a time, so no submission fails for another's sake.

Two submissions racing for the same TPS or key cannot both win: the loser's insert fails on a unique index, and it
is run once more, where it sees the winner's version (a conflict) or the winner's outcome (a replay). After the
commit, each change is announced to every worker's subscribers.

One module past 300 lines: authentication, idempotency, grouping and the one-at-a-time fallback share the group's
state (its tokens, keys and subjects in flight), which splitting would have to pass around.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.tokens import KnownTokens, Principal, authenticate, revoked_among
from api.live.broadcast import Broadcast, Change, LocalBroadcast
from api.read.catalog import Catalog
from api.storage.models import table_of
from api.storage.write_models import IdempotencyKey
from api.write.entries import FieldError
from api.write.outcomes import Accepted, Outcome, Refused, Rejected
from api.write.planned import PlannedWrite, Planning, Subject, apply

log = logging.getLogger(__name__)

#: A use case of api.write.recording, bound to its entry: given the transaction, the races, the writer and the time.
Work = Callable[[AsyncSession, Catalog, Principal, datetime], Awaitable[Outcome]]

#: Attempts of one submission that lost a race on a unique index (or SQLite's write lock).
ATTEMPTS = 4
MAX_KEY_LENGTH = 100
#: Most submissions one group commit writes.
MAX_GROUP = 64
#: Groups written at once (on as many connections): while one waits for its commit, the next reads and inserts.
WRITERS = 3
_INSERT_KEY = insert(table_of(IdempotencyKey))


def request_digest(operation: str, payload: Mapping[str, Any]) -> str:
    """A stable hash of what was asked, so a key reused for a different request is caught."""
    canonical = json.dumps({"operation": operation, "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Waiting:
    """A planned submission waiting for its group."""

    plan: PlannedWrite
    secret: str | None
    digest: str
    work: Work
    key: str | None
    outcome: asyncio.Future[Outcome]


class Submissions:
    """`grouped`: each submission is checked and planned in its own task, then applied with those planned meanwhile
    in one transaction (a group commit); without it, each submission is its own transaction. `reads`: sessions in
    autocommit for the planning, which only reads."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broadcast: Broadcast | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        catalog: Catalog | None = None,
        *,
        reads: async_sessionmaker[AsyncSession] | None = None,
        grouped: bool = True,
        max_group: int = MAX_GROUP,
        writers: int = WRITERS,
    ) -> None:
        self.sessions = sessions
        self.reads = reads or sessions
        self.catalog = catalog or Catalog(self.reads)
        self.broadcast: Broadcast = broadcast or LocalBroadcast()
        self.clock = clock
        self.grouped = grouped
        self.max_group = max_group
        self.tokens = KnownTokens()
        self._known_tps: dict[tuple[int, str], tuple[int, int]] = {}
        self.writers = writers
        self._waiting: list[_Waiting] = []
        self._writers: set[asyncio.Task[None]] = set()
        #: Subjects and idempotency keys of the groups being written, which the next groups leave alone.
        self._in_flight: set[Subject | tuple[int | None, str]] = set()

    async def submit(
        self,
        secret: str | None,
        operation: str,
        payload: Mapping[str, Any],
        work: Work,
        idempotency_key: str | None = None,
    ) -> Outcome:
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
            return Rejected([FieldError("idempotencyKey", f"must be 1 to {MAX_KEY_LENGTH} characters")])
        digest = request_digest(operation, payload) if idempotency_key is not None else ""
        if self.grouped:
            return await self._grouped(secret, digest, work, idempotency_key)  # announced by the group's writer
        outcome = await self._alone(secret, digest, work, idempotency_key)
        await self._announce([outcome])
        return outcome

    async def _alone(self, secret: str | None, digest: str, work: Work, key: str | None) -> Outcome:
        """One submission in its own transaction."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._attempt(secret, digest, work, key)
            except (IntegrityError, OperationalError) as error:
                # Another submission won the race for the same version, key or (SQLite) write lock.
                if attempt == ATTEMPTS:
                    raise
                log.info("a submission lost a race (attempt %d): %s", attempt, type(error).__name__)
        raise AssertionError("unreachable")

    async def _attempt(self, secret: str | None, digest: str, work: Work, key: str | None) -> Outcome:
        now = self.clock()
        async with self.sessions() as session:
            principal = await self._principal(session, secret, digest, key, cached=False)
            if not isinstance(principal, Principal):
                return principal
            outcome = await work(session, self.catalog, principal, now)
            if not isinstance(outcome, Accepted):
                await session.rollback()
                if key is not None:
                    # A retry racing the first submission may have seen its tally but not yet its key: both
                    # were committed together, so the key is there now.
                    return await _replay(session, principal.token_id, key, digest) or outcome
                return outcome
            if key is not None:
                await session.execute(_INSERT_KEY, _key_row(principal.token_id, key, digest, outcome, now))
            await session.commit()
            return outcome

    async def _principal(
        self, session: AsyncSession, secret: str | None, digest: str, key: str | None, *, cached: bool
    ) -> Principal | Outcome:
        """Who submits, or the answer already due: a refusal, or the stored outcome of a retried key. `cached`: a
        token seen before may be taken as it was (but a revoked token is never answered a replay)."""
        if cached and key is None:
            principal = await self.tokens.authenticate(session, secret)
        else:
            principal = await authenticate(session, secret)
        if isinstance(principal, str):
            return Refused(principal)
        if key is not None:
            replay = await _replay(session, principal.token_id, key, digest)
            if replay is not None:
                return replay
        return principal

    async def _grouped(self, secret: str | None, digest: str, work: Work, key: str | None) -> Outcome:
        """Check and plan the submission here, and have the next group apply it."""
        async with self.reads() as session:
            # Whether the token has been revoked meanwhile is checked where it writes.
            principal = await self._principal(session, secret, digest, key, cached=True)
            if not isinstance(principal, Principal):
                return principal
            planning = Planning(session, self._known_tps)
            outcome = await work(session, self.catalog, principal, self.clock())
        if planning.planned is None:
            return outcome  # refused or rejected: nothing to write
        waiting = _Waiting(planning.planned, secret, digest, work, key, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._writers = {w for w in self._writers if not w.done()}  # one that has just finished writes no more
        if len(self._writers) < self.writers:
            self._writers.add(asyncio.create_task(self._write_groups(), name="pantau-group-commit"))
        return await waiting.outcome

    async def _write_groups(self) -> None:
        """Apply what waits, a group at a time, until nothing does."""
        while group := self._next_group():
            held = {w.plan.subject for w in group} | {_token_key(w) for w in group if w.key is not None}
            self._in_flight |= held
            try:
                await self._write_group(group)
            finally:
                self._in_flight -= held

    def _next_group(self) -> list[_Waiting]:
        """Up to `max_group` waiting submissions of distinct subjects and keys that no other group is writing."""
        group: list[_Waiting] = []
        taken: set[Subject | tuple[int | None, str]] = set()
        left: list[_Waiting] = []
        for waiting in self._waiting:
            if waiting.outcome.done():  # cancelled
                continue
            mine = {waiting.plan.subject} | ({_token_key(waiting)} if waiting.key is not None else set())
            if len(group) < self.max_group and not mine & (taken | self._in_flight):
                group.append(waiting)
                taken |= mine
            else:
                left.append(waiting)
        self._waiting = left
        return group

    async def _write_group(self, group: list[_Waiting]) -> None:
        try:
            answered = await self._group_attempt(group)
        except Exception as error:
            # A lost race, or anything unexpected: the group wrote nothing. Each goes alone, so one submission's
            # failure stays its own.
            log.info("a group of %d submissions failed (%s): each goes alone", len(group), type(error).__name__)
            for waiting in group:
                await self._settle_alone(waiting)
            return
        await self._announce([outcome for _, outcome in answered])
        for waiting, outcome in answered:
            if not waiting.outcome.done():
                waiting.outcome.set_result(outcome)

    async def _settle_alone(self, waiting: _Waiting) -> None:
        try:
            outcome = await self._alone(waiting.secret, waiting.digest, waiting.work, waiting.key)
        except Exception as error:
            if not waiting.outcome.done():
                waiting.outcome.set_exception(error)
            return
        await self._announce([outcome])
        if not waiting.outcome.done():
            waiting.outcome.set_result(outcome)

    async def _group_attempt(self, group: list[_Waiting]) -> list[tuple[_Waiting, Outcome]]:
        """One transaction for the group (of distinct subjects and keys): the outcome of each submission."""
        now = self.clock()
        answered: list[tuple[_Waiting, Outcome]] = []
        members = group
        async with self.sessions() as session:
            token_ids = {w.plan.principal.token_id for w in members}
            revoked = await revoked_among(session, [i for i in token_ids if i is not None])
            if revoked:
                self.tokens.forget(revoked)
                answered += [(w, Refused("this token has been revoked")) for w in members
                             if w.plan.principal.token_id in revoked]  # fmt: skip
                members = [w for w in members if w.plan.principal.token_id not in revoked]
            if any(w.key is not None for w in members):
                # A retry planned while the first submission's group was being written.
                replays = {id(w): await _replay(session, *_key_of(w)) for w in members if w.key is not None}
                answered += [(w, replay) for w in members if (replay := replays.get(id(w))) is not None]
                members = [w for w in members if replays.get(id(w)) is None]
            outcomes = await apply(session, [w.plan for w in members], received_at=now)
            key_rows = [_key_row(*_key_of(w)[:2], w.digest, outcome, now)
                        for w, outcome in zip(members, outcomes, strict=True)
                        if w.key is not None and isinstance(outcome, Accepted)]  # fmt: skip
            if key_rows:
                await session.execute(_INSERT_KEY, key_rows)
            await session.commit()
        unaccepted = [w for w, outcome in zip(members, outcomes, strict=True)
                      if w.key is not None and not isinstance(outcome, Accepted)]  # fmt: skip
        if unaccepted:
            # As alone: a retry racing the first submission may have seen its tally but not yet its key.
            async with self.reads() as session:
                replays = {id(w): await _replay(session, *_key_of(w)) for w in unaccepted}
            outcomes = [replays.get(id(w)) or outcome for w, outcome in zip(members, outcomes, strict=True)]
        answered += zip(members, outcomes, strict=True)
        return answered

    async def _announce(self, outcomes: list[Outcome]) -> None:
        """Announce the committed changes among these outcomes, in one publication."""
        at = self.clock().isoformat()
        changes = [
            Change(o.race_id, o.race, o.source.value, o.subject_code, o.claimant, o.version, at)
            for o in outcomes
            if isinstance(o, Accepted) and o.changed and not o.replayed
        ]
        if not changes:
            return
        try:
            await self.broadcast.publish_many(changes)
        except Exception:
            # The writes are committed; subscribers missing an announcement must not turn them into errors.
            log.exception("could not announce %d changes, the first %s", len(changes), changes[0])

    async def principal(self, secret: str | None) -> Principal | str:
        async with self.sessions() as session:
            return await authenticate(session, secret)


def _token_key(waiting: _Waiting) -> tuple[int | None, str]:
    return waiting.plan.principal.token_id, waiting.key or ""


def _key_of(waiting: _Waiting) -> tuple[int | None, str, str]:
    return waiting.plan.principal.token_id, waiting.key or "", waiting.digest


def _key_row(token_id: int | None, key: str, digest: str, outcome: Accepted, now: datetime) -> dict[str, Any]:
    return {
        "token_id": token_id,
        "key": key,
        "request_sha256": digest,
        "outcome": outcome.as_json(),
        "created_at": now,
    }


async def _replay(session: AsyncSession, token_id: int | None, key: str, digest: str) -> Accepted | Rejected | None:
    """The stored outcome of an earlier submission with this key, or None if there was none."""
    stored = await session.get(IdempotencyKey, (token_id, key), populate_existing=True)
    if stored is None:
        return None
    if stored.request_sha256 != digest:
        return Rejected([FieldError("idempotencyKey", "this key was already used for a different request")])
    return Accepted.from_json(stored.outcome)
