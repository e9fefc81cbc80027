"""Faults on command: what goes wrong with Sirekap, where (a path prefix) and when (scenario time).

Kinds, as a client sees them:
  error      HTTP 5xx (status, default 503) with a short HTML body
  refused    the data listener is closed: new connections are refused (global only: path must be "/")
  hang       the request is read and never answered (until the client gives up)
  denied     an HTML "Access Denied" page (a WAF), status 403 (default) or 200
  truncated  status 200, the JSON cut after `truncate_at` (fraction, default 0.5) of its bytes
  slow       the answer comes after `delay_s` seconds (adds up with any other fault)
  stale      the document as of the fault's start: `ts` and content frozen
  freeze     a policy freeze: numbers as of the fault's start while `ts` keeps moving; `drop_charts` (default true)
             nulls the `chart` of aggregated files, as KPU did when it switched the charts off in March 2024

A fault is active from `start` (default: when added) until `until` (default: until removed). Where several match a
path, the one with the longest path prefix wins (the newest on a tie); `slow` delays add to it.
"""

from __future__ import annotations

import enum
import itertools
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any


class FaultKind(enum.StrEnum):
    ERROR = "error"
    REFUSED = "refused"
    HANG = "hang"
    DENIED = "denied"
    TRUNCATED = "truncated"
    SLOW = "slow"
    STALE = "stale"
    FREEZE = "freeze"


class FaultError(ValueError):
    """A fault request that makes no sense; the message says why."""


@dataclass(frozen=True)
class Fault:
    id: str
    kind: FaultKind
    start: datetime
    path: str = "/"
    until: datetime | None = None
    status: int | None = None
    delay_s: float = 0.0
    truncate_at: float = 0.5
    drop_charts: bool = True
    origin: str = "admin"

    def active(self, now: datetime) -> bool:
        return self.start <= now and (self.until is None or now < self.until)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["until"] = self.until.isoformat() if self.until else None
        return data


def make_fault(
    kind: str,
    *,
    start: datetime,
    path: str = "/",
    until: datetime | None = None,
    status: int | None = None,
    delay_s: float = 0.0,
    truncate_at: float = 0.5,
    drop_charts: bool = True,
    origin: str = "admin",
    id: str = "",
) -> Fault:
    """A checked fault (the id is filled in by `FaultBook.add` when empty)."""
    try:
        fault_kind = FaultKind(kind)
    except ValueError:
        raise FaultError(f"unknown fault kind {kind!r}; one of {', '.join(FaultKind)}") from None
    if not path.startswith("/"):
        raise FaultError(f"path {path!r} must start with /")
    if fault_kind is FaultKind.REFUSED and path != "/":
        raise FaultError("refused closes the whole data listener: path must be /")
    if fault_kind is FaultKind.ERROR:
        status = 503 if status is None else status
        if not 500 <= status <= 599:
            raise FaultError(f"error status {status} is not 5xx")
    if fault_kind is FaultKind.DENIED:
        status = 403 if status is None else status
        if status not in (200, 403):
            raise FaultError(f"denied status {status} must be 200 or 403")
    if fault_kind is FaultKind.SLOW and not delay_s > 0:
        raise FaultError("slow needs delay_s > 0")
    if not 0.0 <= truncate_at < 1.0:
        raise FaultError("truncate_at must be in [0, 1)")
    if until is not None and until <= start:
        raise FaultError("until must be after start")
    return Fault(id, fault_kind, start, path, until, status, delay_s, truncate_at, drop_charts, origin)


class FaultBook:
    """The faults in force, scheduled or added at run time. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            if not fault.id:
                fault = replace(fault, id=f"f{next(self._ids)}")
            self._faults[fault.id] = fault
            return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            return self._faults.pop(fault_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults.values())

    def refused(self, now: datetime) -> bool:
        """Whether the data listener should be closed now."""
        return any(f.kind is FaultKind.REFUSED and f.active(now) for f in self.all())

    def match(self, path: str, now: datetime) -> tuple[float, Fault | None]:
        """The total `slow` delay and the fault that decides the answer for `path` now (None: answer normally)."""
        if not self._faults:
            return 0.0, None
        delay = 0.0
        chosen: Fault | None = None
        for fault in self.all():  # insertion order, so a later fault wins a tie
            if not (fault.active(now) and path.startswith(fault.path)):
                continue
            if fault.kind is FaultKind.SLOW:
                delay += fault.delay_s
            elif chosen is None or len(fault.path) >= len(chosen.path):
                chosen = fault
        return delay, chosen
