"""What a write comes to: accepted, rejected with reasons per field, a version conflict, or refused to its token.

Use cases return these as values, never raising for an expected failure. Only an `Accepted` write is committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.storage.models import Source
from api.write.entries import FieldError


@dataclass(frozen=True)
class Accepted:
    race: str
    race_id: int
    source: Source
    subject_code: str
    claimant: int
    version: int
    #: False when the numbers equal the current version's: nothing new was written.
    changed: bool
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: True when answered from an earlier submission with the same idempotency key.
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "source": self.source.value}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> Accepted:
        return cls(**{**stored, "source": Source(stored["source"]), "replayed": True})


@dataclass(frozen=True)
class Rejected:
    reasons: list[FieldError]


@dataclass(frozen=True)
class Conflict:
    expected: int
    current: int

    @property
    def message(self) -> str:
        if self.expected == 0:
            return f"already entered: the current version is {self.current}; to change it, correct that version"
        return f"version {self.expected} is no longer current; the current version is {self.current}"


@dataclass(frozen=True)
class Refused:
    message: str


Outcome = Accepted | Rejected | Conflict | Refused
