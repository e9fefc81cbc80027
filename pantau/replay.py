"""`pantau replay NAME --api URL`: a race's claims and plenos, sent through the write API at their times.

Each event (`api.dataset.events`) is sent when the clock reaches the moment it became known: the drill clock of
PANTAU_CLOCK_START / _SPEED / _EPOCH, or the wall clock. It is sent with the token of whoever made it: the race's recap
officer for the plenos, each paslon's observer for its posko's claim. Those tokens are made for the run in the
database of PANTAU_DATABASE_URL. With --until, every event known by then is sent at once and the replay ends.

An event already recorded (a second run on the same database) is reported as such and not repeated: its idempotency
key is the event's own key.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from api.auth.tokens import Role, create_token
from api.dataset.events import MUTATIONS, Event, Kind, night_events
from api.dataset.loader import DATASETS, race_slug
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from sirekap.belu import Belu2020
from sirekap.clock import Clock, ClockError

ANSWER = (
    "__typename ... on WriteAccepted { version } ... on WriteRejected { message reasons { field message } } "
    "... on VersionConflict { message currentVersion } ... on NotAllowed { message }"
)
RECAP = "recap"


@dataclass(frozen=True)
class Played:
    event: Event
    recorded: bool  # False: refused, or recorded before
    outcome: str  # what became of it, in words


def observer(claimant: int) -> str:
    return f"observer {claimant}"


class Replay:
    """Sends a race's events through the write API; `tokens` by role: RECAP, and `observer(n)` per claimant."""

    def __init__(self, client: httpx.AsyncClient, events: Sequence[Event], tokens: Mapping[str, str], race: str):
        self.client = client
        self.pending = sorted(events, key=lambda e: (e.at, e.key))
        self.tokens = tokens
        self.race = race

    async def send(self, event: Event) -> Played:
        token = self.tokens[RECAP if event.kind is not Kind.POSKO_CLAIM else observer(event.claimant or 0)]
        query = (
            f"mutation($input: RegionTallyInput!, $key: String) "
            f"{{ w: {MUTATIONS[event.kind]}(input: $input, idempotencyKey: $key) {{ {ANSWER} }} }}"
        )
        variables = {"input": event.mutation_input(self.race), "key": event.key}
        try:
            response = await self.client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            return Played(event, False, f"not sent: {error or type(error).__name__}")
        answer = (body.get("data") or {}).get("w")
        if answer is None:
            errors = "; ".join(e.get("message", "") for e in body.get("errors", [])) or f"HTTP {response.status_code}"
            return Played(event, False, f"refused: {errors}")
        kind = answer["__typename"]
        if kind == "WriteAccepted":
            return Played(event, True, f"recorded (version {answer['version']})")
        if kind == "VersionConflict" and answer.get("currentVersion"):
            return Played(event, False, f"already recorded (version {answer['currentVersion']})")
        reasons = "; ".join(f"{r['field']}: {r['message']}" for r in answer.get("reasons", []))
        return Played(event, False, f"refused: {answer.get('message', kind)}{': ' + reasons if reasons else ''}")

    async def play_until(self, until: datetime) -> list[Played]:
        """Send every pending event known by `until`, oldest first."""
        played = []
        while self.pending and self.pending[0].at <= until:
            played.append(await self.send(self.pending.pop(0)))
        return played

    async def follow(
        self,
        clock: Clock,
        on_played: Callable[[Played], None],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Send each event when the clock reaches it; returns after the last."""
        while self.pending:
            ahead = (self.pending[0].at - clock.now()).total_seconds()
            if ahead > 0:
                await sleep(min(clock.real_seconds(ahead), 1.0))
                continue
            for played in await self.play_until(clock.now()):
                on_played(played)


async def replay_tokens(database_url: str, data: Belu2020, now: datetime) -> dict[str, str]:
    """New tokens for a replay: the race's recap officer, and an observer for each paslon's post."""
    engine = create_engine(database_url)
    wanted = {RECAP: (Role.RECAP_OFFICER, None)} | {observer(p.number): (Role.OBSERVER, p.number) for p in data.paslon}
    tokens = {}
    try:
        async with sessionmaker(engine).begin() as session:
            for name, (role, paslon) in wanted.items():
                _, tokens[name] = await create_token(
                    session, role=role, name=f"replay {name}", region_code=data.region_code, paslon=paslon, now=now
                )
    finally:
        await engine.dispose()
    return tokens


def timeline_line(at: datetime, zone: ZoneInfo, text: str) -> str:
    """`10 Dec 00:30 WITA  text`: a line of a night's timeline, in the race's local time."""
    local = at.astimezone(zone)
    return f"{local:%d %b %H:%M} {local.tzname()}  {text}"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pantau replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", choices=sorted(DATASETS))
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the API's base URL")
    parser.add_argument("--until", help="send every event known by then at once, ISO 8601 (default: follow the clock)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        clock = Clock.from_env(os.environ)
    except (ClockError, ValueError) as error:
        parser.error(str(error))
    data = DATASETS[args.name]()
    zone = ZoneInfo(data.time_zone)
    until = None
    if args.until:
        until = datetime.fromisoformat(args.until)
        until = until if until.tzinfo else until.replace(tzinfo=zone)
    return asyncio.run(_replay(settings.database_url, args.api, data, clock, until, zone))


async def _replay(
    database_url: str, api: str, data: Belu2020, clock: Clock, until: datetime | None, zone: ZoneInfo
) -> int:
    tokens = await replay_tokens(database_url, data, clock.now())
    slug = race_slug(data)

    def show(played: Played) -> None:
        print(timeline_line(played.event.at, zone, f"{played.event.what}: {played.outcome}"), flush=True)

    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        replay = Replay(client, night_events(data, slug), tokens, slug)
        if until is not None:
            for played in await replay.play_until(until):
                show(played)
        else:
            await replay.follow(clock, show)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
