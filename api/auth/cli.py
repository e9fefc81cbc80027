"""`pantau token create|revoke|list`: bearer tokens for the write API, managed on the server.

pantau token create --role operator --region 530412 --name "PPK Kota Atambua"   prints the token once
pantau token create --role observer --region 5304 --paslon 2 --name "posko SEHATI"
pantau token create --role admin --name "KPU Belu IT"
pantau token revoke 1a2b3c4d                                                  by its id (prefix)
pantau token list
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime

from api.auth.tokens import Role, TokenError, create_token, list_tokens, revoke_token
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.migrate import upgrade
from api.write import audit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pantau token", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--region", help="region code the token may write in (required except for admins)")
    create.add_argument("--paslon", type=int, help="observers: ballot number of the paslon whose post it speaks for")
    create.add_argument("--name", help="who holds it, for the audit log (default: role and region)")
    revoke = sub.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("id", help="the token's id (its prefix, as `pantau token list` shows it)")
    sub.add_parser("list", help="every token, revoked ones included")
    return parser


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    settings = Settings.from_env(os.environ)
    try:
        return asyncio.run(_run(settings.database_url, args, settings.clock.now()))
    except TokenError as error:
        print(f"pantau token {args.action}: {error}", file=sys.stderr)
        return 1


async def _run(database_url: str, args: argparse.Namespace, now: datetime) -> int:
    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with sessionmaker(engine).begin() as session:
            if args.action == "create":
                role = Role(args.role)
                name = args.name or f"{role}" + (f" {args.region}" if args.region else "")
                token, secret = await create_token(
                    session, role=role, name=name, region_code=args.region, paslon=args.paslon, now=now
                )
                await audit.record(
                    session,
                    at=now,
                    actor="cli",
                    action="token_create",
                    token_id=token.id,
                    subject_code=token.region_code,
                    new=_describe(token),
                )
                print(f"created token {token.prefix} ({name}, {role}); it is shown once, keep it safe:")
                print(secret)
            elif args.action == "revoke":
                token = await revoke_token(session, args.id, now=now)
                await audit.record(
                    session, at=now, actor="cli", action="token_revoke", token_id=token.id, new=_describe(token)
                )
                print(f"revoked token {token.prefix} ({token.name})")
            else:
                header = ("id", "role", "region", "paslon", "created (UTC)", "revoked")
                print("{:<10} {:<14} {:<11} {:<7} {:<17} {:<17} name".format(*header))
                for t in await list_tokens(session):
                    revoked = f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-"
                    print(
                        f"{t.prefix:<10} {t.role:<14} {t.region_code or '*':<11} {t.paslon or '-'!s:<7}"
                        f" {t.created_at:%Y-%m-%d %H:%M} {revoked:<17} {t.name}"
                    )
    finally:
        await engine.dispose()
    return 0


def _describe(token: object) -> dict[str, object]:
    fields = ("prefix", "name", "role", "region_code", "paslon")
    described: dict[str, object] = {name: getattr(token, name) for name in fields}
    revoked = getattr(token, "revoked_at", None)
    described["revoked_at"] = revoked.isoformat() if revoked else None
    return described
