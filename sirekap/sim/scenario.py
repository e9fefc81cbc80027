"""What the app asks of a scenario: the document at a path as of a scenario instant, and its scheduled faults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sirekap.sim.faults import Fault


@dataclass(frozen=True)
class Document:
    """A JSON document and when its content last changed (sent as Last-Modified)."""

    body: Any
    modified: datetime


class Scenario(Protocol):
    name: str
    #: the zone people in the scenario speak (WITA for Belu): naive admin times are read in it
    local_zone: ZoneInfo

    def document(self, path: str, at: datetime) -> Document | None:
        """The document served at `path` at scenario instant `at`; None for a path Sirekap would 404."""
        ...

    def schedule(self) -> list[Fault]:
        """The scenario's own faults (the election-night outage), installed at start."""
        ...

    def status(self, at: datetime) -> dict[str, Any]:
        """A summary for the admin API (progress and the like)."""
        ...
