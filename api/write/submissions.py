"""The boundary of every write: one transaction per submission, with authentication, idempotency and broadcast.

A submission authenticates its bearer token, answers a retried idempotency key from the stored outcome, runs one
use case of `api.write.recording`, and commits only an accepted write (with its audit entry and its idempotency
key). Two submissions racing for the same TPS or key cannot both win: the loser's insert fails on a unique index,
and it is run once more, where it sees the winner's version (a conflict) or the winner's outcome (a replay). After a
commit, the change is announced to every worker's subscribers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.tokens import Principal, authenticate
from api.live.broadcast import Broadcast, Change, LocalBroadcast
from api.read.catalog import Catalog
from api.storage.models import table_of
from api.storage.write_models import IdempotencyKey
from api.write.entries import FieldError
from api.write.outcomes import Accepted, Outcome, Refused, Rejected

log = logging.getLogger(__name__)

#: A use case of api.write.recording, bound to its entry: given the transaction, the races, the writer and the time.
Work = Callable[[AsyncSession, Catalog, Principal, datetime], Awaitable[Outcome]]

#: Attempts of one submission that lost a race on a unique index (or SQLite's write lock).
ATTEMPTS = 4
MAX_KEY_LENGTH = 100
_INSERT_KEY = insert(table_of(IdempotencyKey))


def request_digest(operation: str, payload: Mapping[str, Any]) -> str:
    """A stable hash of what was asked, so a key reused for a different request is caught."""
    canonical = json.dumps({"operation": operation, "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Submissions:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broadcast: Broadcast | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        catalog: Catalog | None = None,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog or Catalog(sessions)
        self.broadcast: Broadcast = broadcast or LocalBroadcast()
        self.clock = clock

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
        for attempt in range(1, ATTEMPTS + 1):
            try:
                outcome = await self._attempt(secret, digest, work, idempotency_key)
            except (IntegrityError, OperationalError) as error:
                # Another submission won the race for the same version, key or (SQLite) write lock.
                if attempt == ATTEMPTS:
                    raise
                log.info("submission %s lost a race (attempt %d): %s", operation, attempt, type(error).__name__)
                continue
            if isinstance(outcome, Accepted) and outcome.changed and not outcome.replayed:
                await self._announce(outcome)
            return outcome
        raise AssertionError("unreachable")

    async def _attempt(self, secret: str | None, digest: str, work: Work, key: str | None) -> Outcome:
        now = self.clock()
        async with self.sessions() as session:
            principal = await authenticate(session, secret)
            if isinstance(principal, str):
                return Refused(principal)
            if key is not None:
                replay = await _replay(session, principal.token_id, key, digest)
                if replay is not None:
                    return replay
            outcome = await work(session, self.catalog, principal, now)
            if not isinstance(outcome, Accepted):
                await session.rollback()
                if key is not None:
                    # A retry racing the first submission may have seen its tally but not yet its key: both
                    # were committed together, so the key is there now.
                    return await _replay(session, principal.token_id, key, digest) or outcome
                return outcome
            if key is not None:
                await session.execute(
                    _INSERT_KEY,
                    {
                        "token_id": principal.token_id,
                        "key": key,
                        "request_sha256": digest,
                        "outcome": outcome.as_json(),
                        "created_at": now,
                    },
                )
            await session.commit()
            return outcome

    async def _announce(self, outcome: Accepted) -> None:
        change = Change(
            race_id=outcome.race_id,
            race=outcome.race,
            source=outcome.source.value,
            subject_code=outcome.subject_code,
            claimant=outcome.claimant,
            version=outcome.version,
            at=self.clock().isoformat(),
        )
        try:
            await self.broadcast.publish(change)
        except Exception:
            # The write is committed; subscribers missing one announcement must not turn it into an error.
            log.exception("could not announce %s", change)

    async def principal(self, secret: str | None) -> Principal | str:
        async with self.sessions() as session:
            return await authenticate(session, secret)


async def _replay(session: AsyncSession, token_id: int | None, key: str, digest: str) -> Accepted | Rejected | None:
    """The stored outcome of an earlier submission with this key, or None if there was none."""
    stored = await session.get(IdempotencyKey, (token_id, key), populate_existing=True)
    if stored is None:
        return None
    if stored.request_sha256 != digest:
        return Rejected([FieldError("idempotencyKey", "this key was already used for a different request")])
    return Accepted.from_json(stored.outcome)
