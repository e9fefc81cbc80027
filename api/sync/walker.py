"""One sync pass over one race: walk the aggregated files from the race's region down, only where something changed.

The race file is always fetched (conditionally). A child region is fetched only when its row in its parent's table
differs from what its subtree was last synced to (`api.sync.plan`); a TPS file only when the desa's row for it
shows votes other than the current tally. Every document goes through `sirekap.documents`; one that does not parse,
or whose `ts` is older than what is already stored (stale), is rejected with its reason and the last good data stays.
A kecamatan's changed desa files are fetched first, then what is stored below them is read in one query, then their
changed TPS files are fetched, and all of their tallies are written in one transaction with the rollups above them
(`api.sync.ingest`) and the sync state of each desa that is complete (and of the kecamatan, if every desa is): a desa
is settled only by the transaction that writes its TPS. A region's sync state is written only once everything below
it is, so a pass cut short anywhere is picked up by the next one. Several kecamatan are in progress at once, so the
write of one overlaps the fetches of the others.

One module past 300 lines: the walk, its conditional fetches and the batch it writes per kecamatan share one pass's
state (what changed, what was read, what is unreadable), which splitting would have to pass around.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.storage.models import Source, Tally, TallyVote, Tps
from api.sync.fetcher import Fetched, Fetcher
from api.sync.ingest import TallyBatch, TpsTally
from api.sync.metrics import RaceStats
from api.sync.pass_result import DptOnly, PassResult
from api.sync.plan import changed_children, changed_tps, chart_fingerprint, row_fingerprint
from api.sync.pool import bounded_map
from api.sync.race_context import RaceContext
from api.sync.state import RegionState, Rejection, region_states, save_region_states
from api.sync.writer import Writer
from api.tallies.writer import TallyInput
from sirekap.checks import check_tps
from sirekap.codes import LENGTHS, Level, level_of
from sirekap.documents import ChildRow, DocumentError, RegionFile, TpsFile, parse_region_file, parse_tps_file

#: Concurrent regions in progress, per level of the region being processed. A kecamatan in progress waits in turn for
#: its desa files, its stored tallies, its TPS files and its write: 48 of them keep `--concurrency` requests in flight.
LEVEL_SLOTS = {Level.PROVINSI: 8, Level.KABUPATEN: 8, Level.KECAMATAN: 48, Level.DESA: 48}
ENTERED_BY = "sirekap-sync"


_FAILED = object()  # a TPS whose file could not be had this pass
#: Reads of what is stored below some desa at once. Fewer than the engine's pool (10): more kecamatan in progress than
#: pooled connections would open and close a connection per read, which cost more than the read itself.
_READS = 4
_DESA_CHUNK = 100  # desa per query when reading the TPS below them
_TPS_CHUNK = 500  # TPS per query when reading their current tallies


@dataclass(frozen=True)
class AsItWas:
    """A region whose file is as it was when its subtree was last synced: only its row above moved."""

    code: str
    state: RegionState


class SyncPass:
    def __init__(
        self,
        ctx: RaceContext,
        fetcher: Fetcher,
        sessions: async_sessionmaker[AsyncSession],
        writer: Writer,
        stats: RaceStats,
        clock: Callable[[], datetime],
        *,
        full: bool = False,
    ) -> None:
        self.ctx = ctx
        self.target = ctx.target
        self.fetcher = fetcher
        self.sessions = sessions
        self.writer = writer
        self.stats = stats
        self.clock = clock
        self.full = full
        self.states: dict[str, RegionState] = {}
        self.synced: dict[str, str | None] = {}  # region → fingerprint its subtree is synced to
        self.result = PassResult("success")
        self._slots = {level: asyncio.Semaphore(n) for level, n in LEVEL_SLOTS.items()}
        self._reads = asyncio.Semaphore(_READS)
        self._upstream_ids = frozenset(ctx.paslon_by_upstream)
        self._upstream_by_paslon = ctx.upstream_by_paslon

    async def run(self) -> PassResult:
        async with self.sessions() as session:
            self.states = await region_states(session, self.ctx.race.id)
        self.synced = {code: state.fingerprint for code, state in self.states.items()}
        code = self.ctx.race.region_code
        state = self.states.get(code, RegionState())
        fetched = await self._fetch_region(code, state)
        if fetched.status == "failed":
            return self._failed(fetched.reason or "transport", fetched.detail)
        if fetched.status == "not_modified":
            self.result.upstream_ts = state.source_ts
            return self.result
        doc = self._parse_region(fetched, state, code)
        if doc is None:
            reason = self.result.rejections[-1].reason if self.result.rejections else "shape"
            return self._failed(reason, f"{fetched.path} refused")
        result = self.result
        result.upstream_ts, result.tps_in, result.tps_total = doc.ts, doc.progress.tps_in, doc.progress.tps_total
        done = RegionState(chart_fingerprint(doc), fetched.etag, fetched.last_modified, doc.ts)
        if not self.full and state.fingerprint == done.fingerprint:
            await self._save(code, done)  # new validators and ts; nothing below moved
            return result
        complete = await self._region(code, doc, done)
        if self.fetcher.circuit_open:
            return self._failed("circuit_open", "the upstream kept failing; the pass stopped early")
        if not complete:
            result.outcome = "partial"
            result.reason = result.failures.most_common(1)[0][0] if result.failures else None
            result.detail = result.summary()
        return result

    # regions

    async def _region(self, code: str, doc: RegionFile, done: RegionState) -> bool:
        """Sync everything below `code` as `doc` shows it; `done` is saved once all of it is written."""
        if level_of(code) is Level.DESA:
            return await self._desas([(code, doc, done)], [], None)
        rows = [row for row in changed_children(doc, self.synced, full=self.full) if self._below(code, row.code)]
        if not rows:
            complete = True
        elif level_of(rows[0].code) is Level.DESA:
            return await self._kecamatan(code, rows, done)
        else:
            level = level_of(rows[0].code)
            slots = LEVEL_SLOTS.get(level, 8)
            results = await bounded_map(lambda row: self._child(row.code, row_fingerprint(row)), rows, slots)
            complete = all(results)
        if complete:
            await self._save(code, done)
        return complete

    def _below(self, parent: str, child: str) -> bool:
        try:
            ok = child.startswith(parent) and level_of(child) is not Level.TPS
        except ValueError:
            ok = False
        if not ok:
            self._reject(self.target.region_file_path(parent), "shape", f"table row {child!r} is not a child region")
        return ok

    async def _child(self, code: str, fingerprint: str) -> bool:
        async with self._slots[level_of(code)]:
            found = await self._child_file(code, fingerprint)
            if found is None:
                return False
            if isinstance(found, AsItWas):
                await self._save(found.code, found.state)
                return True
            return await self._region(*found)

    async def _child_file(self, code: str, fingerprint: str) -> tuple[str, RegionFile, RegionState] | AsItWas | None:
        """A child region's file parsed, with the state to save once everything below it is written (`fingerprint`:
        of its row in the parent's table); `AsItWas` when the file is as it was when its subtree was last fully
        synced (only the parent's row moved); None when it could not be had."""
        state = self.states.get(code, RegionState())
        fetched = await self._fetch_region(code, state)
        if fetched.status == "failed":
            self._unfetched(fetched, code)
            return None
        if fetched.status == "not_modified":
            return AsItWas(code, RegionState(fingerprint, state.etag, state.last_modified, state.source_ts))
        doc = self._parse_region(fetched, state, code)
        if doc is None:
            return None
        return code, doc, RegionState(fingerprint, fetched.etag, fetched.last_modified, doc.ts)

    async def _fetch_region(self, code: str, state: RegionState) -> Fetched:
        # validators are only worth sending once the subtree is synced: a 304 then means "nothing to do here"
        synced = state.fingerprint is not None and not self.full
        fetched = await self.fetcher.get(
            self.target.region_file_path(code),
            etag=state.etag if synced else None,
            last_modified=state.last_modified if synced else None,
        )
        if fetched.status == "ok":
            self.stats.documents["fetched"] += 1
        elif fetched.status == "not_modified":
            self.stats.documents["not_modified"] += 1
        return fetched

    def _parse_region(self, fetched: Fetched, state: RegionState, code: str) -> RegionFile | None:
        try:
            doc = parse_region_file(fetched.body, source_zone=self.ctx.source_zone)
        except DocumentError as error:
            self._reject(fetched.path, error.reason, str(error), code)
            return None
        self.result.read.add(code)
        if doc.ts is not None and state.source_ts is not None and doc.ts < state.source_ts:
            stale = f"ts {doc.ts.isoformat()} is older than {state.source_ts.isoformat()}"
            self._reject(fetched.path, "stale", stale, code)
            return None
        return doc

    async def _save(self, code: str, state: RegionState) -> None:
        race_id, now = self.ctx.race.id, self.clock()

        async def job(session: AsyncSession) -> None:
            await save_region_states(session, race_id, [(code, state)], now=now)

        await self.writer.submit(job)
        self.states[code] = state
        self.synced[code] = state.fingerprint

    # a kecamatan's desa and their TPS, written in one transaction

    async def _kecamatan(self, code: str, rows: list[ChildRow], done: RegionState) -> bool:
        """Fetch the changed desa files of a kecamatan, then their changed TPS files, and write all of it at once:
        each desa is settled in the transaction that writes its tallies, the kecamatan with them if all are."""
        found = await asyncio.gather(*(self._child_file(row.code, row_fingerprint(row)) for row in rows))
        desas = [item for item in found if isinstance(item, tuple)]
        as_they_were = [item for item in found if isinstance(item, AsItWas)]
        fetched_all = len(desas) + len(as_they_were) == len(found)
        return await self._desas(desas, as_they_were, (code, done) if fetched_all else None)

    async def _desas(
        self,
        desas: list[tuple[str, RegionFile, RegionState]],
        as_they_were: list[AsItWas],
        parent: tuple[str, RegionState] | None,
    ) -> bool:
        """Fetch the changed TPS of these desa and write them in one transaction with the sync state of every desa
        now complete, of those `as_they_were`, and of `parent` (the kecamatan) if every desa is complete."""
        tps_rows, current, current_ts = await self._tps_now([code for code, _, _ in desas]) if desas else ({}, {}, {})
        wanted: list[tuple[str, str]] = []  # (desa, TPS)
        incomplete: set[str] = set()
        for code, doc, _ in desas:
            fetch, empty = changed_tps(doc, current, full=self.full)
            for tps in fetch + empty:
                if tps not in tps_rows:
                    self._reject(self.target.region_file_path(code), "unknown_region", f"TPS {tps} is not in the race")
                    self.result.rebootstrap = True
                    incomplete.add(code)
            wanted.extend((code, tps) for tps in fetch if tps in tps_rows)
        results = await asyncio.gather(
            *(self._tps(tps, tps_rows[tps], current.get(tps), current_ts.get(tps)) for _, tps in wanted)
        )
        incomplete.update(desa for (desa, _), r in zip(wanted, results, strict=True) if r is _FAILED)
        tallies = [r for r in results if isinstance(r, TpsTally)]
        dpt_only = [(r.tps_id, r.tps_code, r.registered_voters) for r in results if isinstance(r, DptOnly)]
        settled = [(code, done) for code, _, done in desas if code not in incomplete]
        states = settled + [(d.code, d.state) for d in as_they_were]
        complete = parent is not None and len(settled) == len(desas)
        if complete and parent is not None:
            states.append(parent)
        if tallies or dpt_only or states:
            written = await self.writer.submit(TallyBatch(self.ctx.race, tallies, dpt_only, states, self.clock()))
            self.stats.documents["changed"] += len(written)
            self.result.tps_written += len(written)
            self.result.changed_kecamatan.update(tps[: LENGTHS[Level.KECAMATAN]] for tps in written)
            for code, state in states:
                self.states[code] = state
                self.synced[code] = state.fingerprint
            self.result.settled.update(code for code, _ in settled)
        if parent is None:  # a race whose region is a desa: the desa alone
            return len(desas) == 1 and not incomplete
        return complete

    async def _tps_now(
        self, desas: list[str]
    ) -> tuple[dict[str, tuple[int, int]], dict[str, dict[str, int]], dict[str, datetime | None]]:
        """The race's TPS in these desa (code → id, registered voters), and their current Sirekap tallies: votes by
        upstream candidate id, and `ts`."""
        race_id = self.ctx.race.id
        tps: dict[str, tuple[int, int]] = {}
        current: dict[str, dict[str, int]] = {}
        stamps: dict[str, datetime | None] = {}
        async with self._reads, self.sessions() as session:
            for start in range(0, len(desas), _DESA_CHUNK):
                rows = await session.execute(
                    select(Tps.code, Tps.id, Tps.registered_voters).where(
                        Tps.race_id == race_id, Tps.desa_code.in_(desas[start : start + _DESA_CHUNK])
                    )
                )
                tps.update((code, (tps_id, registered)) for code, tps_id, registered in rows)
            codes = sorted(tps)
            for start in range(0, len(codes), _TPS_CHUNK):
                # by TPS code, so the current-tally index finds each one; a range per desa would scan the race
                votes = await session.execute(
                    select(Tally.subject_code, Tally.source_ts, TallyVote.paslon_id, TallyVote.votes)
                    .join(TallyVote, TallyVote.tally_id == Tally.id)
                    .where(
                        Tally.race_id == race_id,
                        Tally.source == Source.SIREKAP,
                        Tally.is_current,
                        Tally.subject_code.in_(codes[start : start + _TPS_CHUNK]),
                    )
                )
                for code, ts, paslon, count in votes:
                    stamps[code] = ts
                    upstream = self._upstream_by_paslon.get(paslon)
                    if upstream is not None:
                        current.setdefault(code, {})[upstream] = count
        return tps, current, stamps

    async def _tps(
        self, code: str, tps: tuple[int, int], current: dict[str, int] | None, current_ts: datetime | None
    ) -> object:
        fetched = await self.fetcher.get(self.target.region_file_path(code))
        if fetched.status != "ok":
            self._unfetched(fetched, code)
            return _FAILED
        self.stats.documents["fetched"] += 1
        try:
            doc = parse_tps_file(fetched.body, source_zone=self.ctx.source_zone)
        except DocumentError as error:
            self._reject(fetched.path, error.reason, str(error), code)
            return _FAILED
        self.result.read.add(code)
        if doc.votes is None:
            # nothing uploaded (or taken down): keep what we have, but learn the DPT if the page states it
            dpt = doc.administrasi.pemilih_dpt_j if doc.administrasi is not None else None
            return DptOnly(tps[0], code, dpt) if dpt and tps[1] == 0 else None
        if doc.ts is not None and current_ts is not None and doc.ts < current_ts:
            stale = f"ts {doc.ts.isoformat()} is older than {current_ts.isoformat()}"
            self._reject(fetched.path, "stale", stale, code)
            return _FAILED
        return self._tally(code, tps, doc, current, fetched.path)

    def _tally(
        self, code: str, tps: tuple[int, int], doc: TpsFile, current: dict[str, int] | None, path: str
    ) -> object:
        tps_id, registered = tps
        findings = check_tps(
            doc,
            candidate_ids=self._upstream_ids,
            registered_voters=registered or None,
            voter_cap=self.ctx.voter_cap,
        )
        votes = {self.ctx.paslon_by_upstream[k]: v for k, v in (doc.votes or {}).items() if k in self._upstream_ids}
        adm = doc.administrasi
        note = None
        if current and any(doc.votes and doc.votes.get(k, 0) < v for k, v in current.items()):
            note = "correction: votes went down from " + ", ".join(f"{k}={v}" for k, v in sorted(current.items()))
        tally = TallyInput(
            votes,
            valid=adm.suara_sah if adm else None,
            invalid=adm.suara_tidak_sah if adm else None,
            total=adm.suara_total if adm else None,
            voters_dpt=adm.pengguna_dpt_j if adm else None,
            voters_dptb=adm.pengguna_dptb_j if adm else None,
            voters_non_dpt=adm.pengguna_non_dpt_j if adm else None,
            voters_total=adm.pengguna_total_j if adm else None,
            source_ts=doc.ts,
            findings=tuple(f.as_dict() for f in findings),
            entered_by=ENTERED_BY,
            note=note,
        )
        fill = adm.pemilih_dpt_j if adm is not None and registered == 0 else None
        return TpsTally(tps_id, code, tally, fill)

    # bookkeeping

    def _failure(self, reason: str) -> None:
        self.stats.failures[reason] += 1
        self.result.failures[reason] += 1

    def _unfetched(self, fetched: Fetched, code: str) -> None:
        reason = fetched.reason or "transport"
        self._failure(reason)
        self.result.unfetched.append(Rejection(fetched.path, reason, fetched.detail, code))

    def _reject(self, path: str, reason: str, detail: str, code: str | None = None) -> None:
        self.stats.documents["rejected"] += 1
        self._failure(reason)
        self.result.rejections.append(Rejection(path, reason, detail, code))

    def _failed(self, reason: str, detail: str) -> PassResult:
        self.result.outcome = "failure"
        self.result.reason = reason
        self.result.detail = detail
        if reason not in self.result.failures:
            self._failure(reason)
        return self.result
