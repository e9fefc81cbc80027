"""The Mutation type: C.Hasil entries and corrections, posko claims, pleno results.

Every mutation answers a `WriteResult` union: `WriteAccepted`, `WriteRejected` (reasons per input field),
`VersionConflict` (a stale `correctsVersion`) or `NotAllowed` (no token, a revoked one, the wrong role or region).
The bearer token comes from `Authorization: Bearer …` (over a websocket: from `connection_init`'s payload);
mutations are executed over POST and over the websocket, never over GET.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import strawberry
from starlette.responses import Response

from api.auth.tokens import bearer_secret
from api.graphql.context import Info
from api.graphql.errors import PublicError
from api.graphql.write_types import (
    ChasilInput,
    IdempotencyKey,
    NotAllowed,
    PaslonVotesInput,
    RegionTallyInput,
    VersionConflict,
    WriteAccepted,
    WriteRejected,
    WriteResult,
    answer,
)
from api.storage import models
from api.write.entries import FieldError, RegionEntry, TpsEntry
from api.write.outcomes import Rejected
from api.write.recording import record_claim, record_pleno, submit_tps_tally
from api.write.submissions import Submissions, Work

#: The response header naming the API process that applied a write (several workers share one port).
WORKER_HEADER = "Pantau-Worker"


def _votes(votes: list[PaslonVotesInput]) -> dict[int, int] | Rejected:
    counted: dict[int, int] = {}
    for v in votes:
        if v.paslon in counted:
            return Rejected([FieldError(f"votes[{v.paslon}]", f"paslon {v.paslon} is given twice")])
        counted[v.paslon] = v.votes
    return counted


def submissions_of(info: Info) -> Submissions:
    services = info.context.services
    if services is None:
        raise PublicError("this server does not accept writes")
    return services.submissions


async def _submit(
    info: Info, operation: str, given: Any, work: Work | Rejected, key: str | None
) -> WriteAccepted | WriteRejected | VersionConflict | NotAllowed:
    if isinstance(work, Rejected):
        return answer(work)
    secret = bearer_secret(info.context.authorization())
    # What was asked matters only to recognise a retry: without a key, it is not even serialised.
    payload = _plain(given) if key is not None else {}
    outcome = await submissions_of(info).submit(secret, operation, payload, work, key)
    response = info.context.response
    if isinstance(response, Response):  # over a websocket there is no response to carry headers
        response.headers[WORKER_HEADER] = str(os.getpid())
    return answer(outcome)


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
