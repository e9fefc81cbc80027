"""The Mutation type: C.Hasil entries and corrections, posko claims, pleno results; and the admins' audit log query.

Every mutation answers a `WriteResult` union: `WriteAccepted`, `WriteRejected` (reasons per input field),
`VersionConflict` (a stale `correctsVersion`) or `NotAllowed` (no token, a revoked one, the wrong role or region).
The bearer token comes from `Authorization: Bearer …` (over a websocket: from `connection_init`'s payload);
mutations are executed over POST and over the websocket, never over GET.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from starlette.responses import Response
from strawberry.scalars import JSON

from api import audit, models
from api.entries import FieldError, RegionEntry, TpsEntry
from api.graphql.context import Info
from api.graphql.errors import PublicError
from api.graphql.query import Query
from api.graphql.types import Finding, Source
from api.outcomes import Accepted, Conflict, Outcome, Refused, Rejected
from api.read.tps import MAX_PAGE
from api.submissions import Submissions, Work
from api.tokens import Role, bearer_secret
from api.write_models import ApiToken
from api.writes import record_claim, record_pleno, submit_tps_tally

#: The response header naming the API process that applied a write (several workers share one port).
WORKER_HEADER = "Pantau-Worker"


@strawberry.input(description="Votes for one paslon, by ballot number.")
class PaslonVotesInput:
    paslon: int = strawberry.field(description="Ballot number (nomor urut).")
    votes: int = strawberry.field(description="Votes as written on the form.")


_PAPER = strawberry.field(
    default=False,
    description="The numbers contradict each other but this is what the form says: store them with findings.",
)


@strawberry.input(description="A TPS's C.Hasil tally as the operator reads it off the form.")
class ChasilInput:
    tps: str = strawberry.field(description="13-digit TPS code.")
    votes: list[PaslonVotesInput] = strawberry.field(description="Every paslon's votes.")
    valid: int = strawberry.field(description="Valid votes (suara sah).")
    invalid: int = strawberry.field(description="Invalid votes (suara tidak sah).")
    total: int = strawberry.field(description="Ballots cast (suara sah + tidak sah).")
    voters_dpt: int | None = strawberry.field(default=None, description="Voters from the DPT (pengguna DPT).")
    voters_dptb: int | None = strawberry.field(default=None, description="Moved-in voters (pengguna DPTb).")
    voters_non_dpt: int | None = strawberry.field(default=None, description="Voters with an ID card (DPK).")
    voters_total: int | None = strawberry.field(default=None, description="All voters who came.")
    matches_paper_form: bool = _PAPER
    note: str | None = strawberry.field(default=None, description="A remark for the audit trail.")
    race: str | None = strawberry.field(default=None, description="Race slug; default: the newest covering the TPS.")
    corrects_version: int | None = strawberry.field(
        default=None, description="The version this corrects (correctChasil only)."
    )


@strawberry.input(description="A region's numbers: a posko claim, or a pleno result (D.Hasil).")
class RegionTallyInput:
    region: str = strawberry.field(description="Region code: the kecamatan or kabupaten of a pleno.")
    votes: list[PaslonVotesInput] = strawberry.field(description="Every paslon's votes.")
    valid: int | None = strawberry.field(default=None, description="Valid votes; default: the sum of the votes.")
    invalid: int | None = strawberry.field(default=None, description="Invalid votes, when published.")
    total: int | None = strawberry.field(default=None, description="Ballots cast, when published.")
    tps_claimed: int | None = strawberry.field(default=None, description="Claims: how many TPS the claim covers.")
    claimant: int | None = strawberry.field(
        default=None, description="Claims: the claiming paslon's ballot number (an observer's token names its own)."
    )
    as_of: datetime | None = strawberry.field(
        default=None,
        description="When the pleno read it or the post published it, with its UTC offset; default: now.",
    )
    as_of_date: date | None = strawberry.field(
        default=None, description="The day it was read or published, when only the day is known (instead of asOf)."
    )
    matches_paper_form: bool = _PAPER
    note: str | None = strawberry.field(default=None, description="Where the numbers were read or published.")
    race: str | None = strawberry.field(default=None, description="Race slug; default: the newest covering the region.")
    corrects_version: int | None = strawberry.field(
        default=None, description="The version this corrects; omit for the first."
    )


@strawberry.type(description="The write was applied (or had been, for a retried idempotency key).")
class WriteAccepted:
    race: str = strawberry.field(description="The race's slug.")
    source: Source = strawberry.field(description="The source written.")  # type: ignore[valid-type]
    subject_code: str = strawberry.field(description="The TPS or region code.")
    claimant: int | None = strawberry.field(description="Claims: the claiming paslon's ballot number.")
    version: int = strawberry.field(description="The version now current; name it to correct it.")
    changed: bool = strawberry.field(description="False when the numbers equalled the current version's.")
    replayed: bool = strawberry.field(description="True when answered from an earlier submission with the same key.")
    findings: list[Finding] = strawberry.field(description="Contradictions stored with the numbers.")


@strawberry.type(description="Why one input field was refused.")
class FieldReason:
    field: str = strawberry.field(description="The input field, e.g. total, votes[2], tps.")
    message: str = strawberry.field(description="What is wrong, with the numbers.")
    check: str | None = strawberry.field(description="The consistency check's name, if one failed.")
    overridable: bool = strawberry.field(description="True if matchesPaperForm would store it anyway.")


@strawberry.type(description="The write was refused; nothing changed.")
class WriteRejected:
    message: str = strawberry.field(description="A summary.")
    reasons: list[FieldReason] = strawberry.field(description="Reasons, per field.")


@strawberry.type(description="The version named is not current: someone else wrote first. Nothing changed.")
class VersionConflict:
    message: str = strawberry.field(description="What happened.")
    expected_version: int = strawberry.field(description="The version the write named (0: none).")
    current_version: int = strawberry.field(description="The version now current.")


@strawberry.type(description="This token may not make this write (or there is no valid token). Nothing changed.")
class NotAllowed:
    message: str = strawberry.field(description="Why.")


WriteResult = Annotated[
    WriteAccepted | WriteRejected | VersionConflict | NotAllowed,
    strawberry.union("WriteResult", description="What became of a write."),
]

IdempotencyKey = Annotated[
    str | None,
    strawberry.argument(description="A key of your choosing: a retry with the same key is applied once."),
]


def _answer(outcome: Outcome) -> WriteAccepted | WriteRejected | VersionConflict | NotAllowed:
    if isinstance(outcome, Accepted):
        return WriteAccepted(
            race=outcome.race,
            source=outcome.source,
            subject_code=outcome.subject_code,
            claimant=outcome.claimant or None,
            version=outcome.version,
            changed=outcome.changed,
            replayed=outcome.replayed,
            findings=Finding.many(outcome.findings),
        )
    if isinstance(outcome, Rejected):
        return WriteRejected(
            message="; ".join(f"{r.field}: {r.message}" for r in outcome.reasons),
            reasons=[
                FieldReason(field=r.field, message=r.message, check=r.check, overridable=r.overridable)
                for r in outcome.reasons
            ],
        )
    if isinstance(outcome, Conflict):
        return VersionConflict(
            message=outcome.message, expected_version=outcome.expected, current_version=outcome.current
        )
    assert isinstance(outcome, Refused)
    return NotAllowed(message=outcome.message)


def _votes(votes: list[PaslonVotesInput]) -> dict[int, int] | Rejected:
    counted: dict[int, int] = {}
    for v in votes:
        if v.paslon in counted:
            return Rejected([FieldError(f"votes[{v.paslon}]", f"paslon {v.paslon} is given twice")])
        counted[v.paslon] = v.votes
    return counted


def _submissions(info: Info) -> Submissions:
    found: Submissions | None = getattr(info.context.request.app.state, "submissions", None)
    if found is None:
        raise PublicError("this server does not accept writes")
    return found


async def _submit(
    info: Info, operation: str, given: Any, work: Work | Rejected, key: str | None
) -> WriteAccepted | WriteRejected | VersionConflict | NotAllowed:
    if isinstance(work, Rejected):
        return _answer(work)
    secret = bearer_secret(info.context.authorization())
    # What was asked matters only to recognise a retry: without a key, it is not even serialised.
    payload = _plain(given) if key is not None else {}
    outcome = await _submissions(info).submit(secret, operation, payload, work, key)
    response = info.context.response
    if isinstance(response, Response):  # over a websocket there is no response to carry headers
        response.headers[WORKER_HEADER] = str(os.getpid())
    return _answer(outcome)


def _plain(given: Any) -> Mapping[str, Any]:
    return asdict(given)


def _tps_work(given: ChasilInput, corrects: int | None) -> Work | Rejected:
    votes = _votes(given.votes)
    if isinstance(votes, Rejected):
        return votes
    entry = TpsEntry(
        tps_code=given.tps,
        votes=votes,
        valid=given.valid,
        invalid=given.invalid,
        total=given.total,
        voters_dpt=given.voters_dpt,
        voters_dptb=given.voters_dptb,
        voters_non_dpt=given.voters_non_dpt,
        voters_total=given.voters_total,
        matches_paper_form=given.matches_paper_form,
        corrects_version=corrects,
        note=given.note,
        race=given.race,
    )
    return lambda session, catalog, principal, now: submit_tps_tally(session, catalog, principal, entry, now)


def _region_entry(given: RegionTallyInput) -> RegionEntry | Rejected:
    votes = _votes(given.votes)
    if isinstance(votes, Rejected):
        return votes
    return RegionEntry(
        region_code=given.region,
        votes=votes,
        valid=given.valid,
        invalid=given.invalid,
        total=given.total,
        tps_claimed=given.tps_claimed,
        claimant=given.claimant,
        as_of=given.as_of,
        as_of_date=given.as_of_date,
        matches_paper_form=given.matches_paper_form,
        corrects_version=given.corrects_version,
        note=given.note,
        race=given.race,
    )


def _pleno_work(given: RegionTallyInput, source: models.Source) -> Work | Rejected:
    entry = _region_entry(given)
    if isinstance(entry, Rejected):
        return entry
    return lambda session, catalog, principal, now: record_pleno(session, catalog, principal, entry, source, now)


@strawberry.type(description="Writes: C.Hasil entries, posko claims and pleno results. Send a bearer token.")
class Mutation:
    @strawberry.mutation(description="Enter a TPS's C.Hasil tally for the first time (operators).")
    async def submit_chasil(
        self, info: Info, input: ChasilInput, idempotency_key: IdempotencyKey = None
    ) -> WriteResult:
        work = _tps_work(input, None)
        if input.corrects_version is not None:
            work = Rejected([FieldError("correctsVersion", "a first entry corrects nothing: use correctChasil")])
        return await _submit(info, "submit_chasil", input, work, idempotency_key)

    @strawberry.mutation(description="Correct a TPS's C.Hasil tally, naming the version corrected (operators).")
    async def correct_chasil(
        self, info: Info, input: ChasilInput, idempotency_key: IdempotencyKey = None
    ) -> WriteResult:
        if input.corrects_version is None:
            work: Work | Rejected = Rejected([FieldError("correctsVersion", "name the version this corrects")])
        else:
            work = _tps_work(input, input.corrects_version)
        return await _submit(info, "correct_chasil", input, work, idempotency_key)

    @strawberry.mutation(description="Record a posko claim for a region (observers: labelled with their paslon).")
    async def record_posko_claim(
        self, info: Info, input: RegionTallyInput, idempotency_key: IdempotencyKey = None
    ) -> WriteResult:
        entry = _region_entry(input)
        work: Work | Rejected = (
            entry
            if isinstance(entry, Rejected)
            else (lambda session, catalog, principal, now: record_claim(session, catalog, principal, entry, now))
        )
        return await _submit(info, "record_posko_claim", input, work, idempotency_key)

    @strawberry.mutation(description="Record a kecamatan's pleno result, D.Hasil Kecamatan (recap officers).")
    async def record_pleno_kecamatan(
        self, info: Info, input: RegionTallyInput, idempotency_key: IdempotencyKey = None
    ) -> WriteResult:
        work = _pleno_work(input, models.Source.PLENO_KECAMATAN)
        return await _submit(info, "record_pleno_kecamatan", input, work, idempotency_key)

    @strawberry.mutation(description="Record the kabupaten/kota pleno result, D.Hasil Kabupaten/Kota (recap officers).")
    async def record_pleno_kabupaten(
        self, info: Info, input: RegionTallyInput, idempotency_key: IdempotencyKey = None
    ) -> WriteResult:
        work = _pleno_work(input, models.Source.PLENO_KABUPATEN)
        return await _submit(info, "record_pleno_kabupaten", input, work, idempotency_key)


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
        principal = await _submissions(info).principal(bearer_secret(info.context.authorization()))
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
