"""The admins' audit log query, and the Query type that carries it."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import select
from strawberry.scalars import JSON

from api.auth.tokens import Role, bearer_secret
from api.graphql.context import Info
from api.graphql.errors import PublicError
from api.graphql.mutations import submissions_of
from api.graphql.query import Query
from api.read.tps import MAX_PAGE
from api.storage import models
from api.storage.write_models import ApiToken
from api.write import audit


@strawberry.type(description="One applied write: who, when, from which token, and the values before and after.")
class AuditEntry:
    id: int = strawberry.field(description="Entries are numbered in the order they were written.")
    at: datetime = strawberry.field(description="When, UTC.")
    actor: str = strawberry.field(description="The token's holder, role and id, or 'cli'.")
    token: str | None = strawberry.field(description="The token's id (prefix).")
    action: str = strawberry.field(description="e.g. submit_chasil, correct_chasil, submit_pleno_kecamatan.")
    race: str | None = strawberry.field(description="The race's slug.")
    source: str | None = strawberry.field(description="The source written.")
    subject_code: str | None = strawberry.field(description="The TPS or region code.")
    claimant: int | None = strawberry.field(description="Claims: the claiming paslon.")
    version: int | None = strawberry.field(description="The version written.")
    old: JSON | None = strawberry.field(description="The values before (null for a first entry).")
    new: JSON | None = strawberry.field(description="The values after.")


@strawberry.type
class AuditQuery:
    @strawberry.field(description="The audit log, newest first (admin tokens only).")
    async def audit_log(
        self,
        info: Info,
        race: str | None = None,
        region: str | None = None,
        token: str | None = None,
        action: str | None = None,
        first: int = 50,
        before: int | None = None,
    ) -> list[AuditEntry]:
        if not 0 <= first <= MAX_PAGE:
            raise PublicError(f"first must be between 0 and {MAX_PAGE}")
        principal = await submissions_of(info).principal(bearer_secret(info.context.authorization()))
        if isinstance(principal, str):
            raise PublicError(principal)
        if principal.role is not Role.ADMIN:
            raise PublicError("the audit log is for admin tokens")
        async with info.context.sessions() as session:
            races = {r.id: r.slug for r in await session.scalars(select(models.Race))}
            tokens = {t.id: t.prefix for t in await session.scalars(select(ApiToken))}
            race_id = next((i for i, slug in races.items() if slug == race), -1) if race is not None else None
            token_id = next((i for i, prefix in tokens.items() if prefix == token), -1) if token is not None else None
            found = await audit.entries(
                session, audit.AuditFilter(race_id, region, token_id, action, before), first=first
            )
        return [
            AuditEntry(
                id=e.id,
                at=e.at,
                actor=e.actor,
                token=tokens.get(e.token_id) if e.token_id is not None else None,
                action=e.action,
                race=races.get(e.race_id) if e.race_id is not None else None,
                source=e.source,
                subject_code=e.subject_code,
                claimant=e.claimant,
                version=e.version,
                old=e.old,
                new=e.new,
            )
            for e in found
        ]


@strawberry.type(
    name="Query", description="Read access to races, regions, TPS and results from every source; the audit log."
)
class QueryWithAudit(Query, AuditQuery):
    """The read API's Query with the admins' audit log added."""
