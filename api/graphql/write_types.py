"""What a write takes and what becomes of it, as GraphQL types: the inputs (a C.Hasil form, a region's numbers) and
the `WriteResult` union (`WriteAccepted`, `WriteRejected` with reasons per input field, `VersionConflict` for a
stale `correctsVersion`, `NotAllowed` for no token, a revoked one, the wrong role or region)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from api.graphql.inputs import built_directly
from api.graphql.types import Finding, Source
from api.write.outcomes import Accepted, Conflict, Outcome, Refused, Rejected


@built_directly
@strawberry.input(description="Votes for one paslon, by ballot number.")
class PaslonVotesInput:
    paslon: int = strawberry.field(description="Ballot number (nomor urut).")
    votes: int = strawberry.field(description="Votes as written on the form.")


_PAPER = strawberry.field(
    default=False,
    description="The numbers contradict each other but this is what the form says: store them with findings.",
)


@built_directly
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


@built_directly
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


def answer(outcome: Outcome) -> WriteAccepted | WriteRejected | VersionConflict | NotAllowed:
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
