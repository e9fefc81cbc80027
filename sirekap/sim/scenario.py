"""What the app asks of a scenario: the document at a path as of a scenario instant, and its scheduled faults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sirekap.codes import CodeError, url_path
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


def code_in(path: str, prefix: str) -> str | None:
    """The region code a Sirekap path names after `prefix`, when every ancestor is spelled out correctly.

    `code_in("/pilkada/hhcw/pkwkk/53/5304.json", "/pilkada/hhcw/pkwkk/")` is `"5304"`; a broken chain is None.
    """
    if not (path.startswith(prefix) and path.endswith(".json")):
        return None
    chain = path[len(prefix) : -5]
    code = chain.rpartition("/")[2]
    try:
        return code if code and url_path(code) == chain else None
    except CodeError:
        return None
