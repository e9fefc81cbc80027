"""`pantau token create|list|revoke` against a real database, on every backend."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import select

from api.auth.cli import run
from api.auth.tokens import Principal, Role, authenticate
from api.storage.db import create_engine, sessionmaker
from api.storage.write_models import ApiToken, AuditEntry
from pantau.cli import main


async def _read(url: str, secret: str) -> tuple[list[ApiToken], list[AuditEntry], Principal | str]:
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            tokens = list(await session.scalars(select(ApiToken)))
            entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
            return tokens, entries, await authenticate(session, secret)
    finally:
        await engine.dispose()


def test_create_list_and_revoke(
    belu_race_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANTAU_DATABASE_URL", belu_race_database_url)
    assert main(["token", "create", "--role", "operator", "--region", "530412", "--name", "PPK Kota Atambua"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("pantau_")

    (token,), _, principal = asyncio.run(_read(belu_race_database_url, secret))
    assert token.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.prefix, token.name, token.secret_sha256}
    assert principal == Principal(token.id, token.prefix, "PPK Kota Atambua", Role.OPERATOR, "530412", None)

    assert run(["list"]) == 0
    listed = capsys.readouterr().out
    assert token.prefix in listed and "operator" in listed and "530412" in listed and secret not in listed

    assert run(["revoke", token.prefix]) == 0
    assert f"revoked token {token.prefix}" in capsys.readouterr().out
    (token,), entries, principal = asyncio.run(_read(belu_race_database_url, secret))
    assert token.revoked_at is not None and principal == "this token has been revoked"
    assert [(e.action, e.actor, e.token_id) for e in entries] == [
        ("token_create", "cli", token.id),
        ("token_revoke", "cli", token.id),
    ]
    assert run(["list"]) == 0
    assert f"{token.revoked_at:%Y-%m-%d %H:%M}" in capsys.readouterr().out


def test_observers_speak_for_a_paslon_and_admins_may_go_anywhere(
    belu_race_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANTAU_DATABASE_URL", belu_race_database_url)
    assert run(["create", "--role", "observer", "--region", "5304", "--paslon", "2"]) == 0
    observer = capsys.readouterr().out.strip().splitlines()[-1]
    assert run(["create", "--role", "admin"]) == 0
    admin = capsys.readouterr().out.strip().splitlines()[-1]
    _, _, seen = asyncio.run(_read(belu_race_database_url, observer))
    assert isinstance(seen, Principal) and (seen.role, seen.region_code, seen.paslon) == (Role.OBSERVER, "5304", 2)
    _, _, seen = asyncio.run(_read(belu_race_database_url, admin))
    assert isinstance(seen, Principal) and seen.role is Role.ADMIN and seen.covers("5304121003001")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "--role", "operator"], "needs a region"),
        (["create", "--role", "operator", "--region", "999999"], "unknown region 999999"),
        (["create", "--role", "operator", "--region", "5304121003001"], "is a TPS code"),
        (["create", "--role", "observer", "--region", "5304"], "--paslon"),
        (["create", "--role", "recap_officer", "--region", "5304", "--paslon", "1"], "only observer"),
        (["revoke", "ffffffff"], "no token"),
    ],
)
def test_mistakes_are_refused_with_a_reason(
    belu_race_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("PANTAU_DATABASE_URL", belu_race_database_url)
    assert run(argv) == 1
    assert message in capsys.readouterr().err
    tokens, entries, _ = asyncio.run(_read(belu_race_database_url, "pantau_x_y"))
    assert tokens == [] and entries == []


def test_unknown_secrets_are_refused(database_url: str) -> None:
    for secret in (None, "", "not-a-token", "pantau_abcd_wrong"):
        _, _, seen = asyncio.run(_read(database_url, secret))  # type: ignore[arg-type]
        assert isinstance(seen, str)
