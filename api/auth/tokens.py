"""Bearer tokens and roles: who may write what, and where.

A token reads `pantau_<prefix>_<secret>`. Only the SHA-256 of the whole string is stored, with the prefix as its public
id (shown by `pantau token list`, named by `pantau token revoke`), so a stolen database holds no usable token.

Roles:
    operator       enters and corrects C.Hasil tallies of TPS within its region
    recap_officer  records pleno results (D.Hasil) of the kecamatan or kabupaten within its region
    observer       records posko claims within its region, labelled with its paslon's ballot number
    admin          everything, anywhere (or within its region if it has one), and reads the audit log
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import Region
from api.storage.write_models import ApiToken
from sirekap.codes import CodeError, Level, level_of

SCHEME = "pantau"


class Role(enum.StrEnum):
    OPERATOR = "operator"
    RECAP_OFFICER = "recap_officer"
    OBSERVER = "observer"
    ADMIN = "admin"


class TokenError(ValueError):
    """A token that cannot be created or revoked; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is writing: an unrevoked token's identity, role and scope."""

    token_id: int | None  # None: a command of the machine's own operator (`pantau load`), not a token
    prefix: str
    name: str
    role: Role
    region_code: str | None
    paslon: int | None

    def covers(self, code: str) -> bool:
        """Whether a region or TPS code lies within the token's region."""
        return self.region_code is None or code.startswith(self.region_code)

    @property
    def label(self) -> str:
        if self.token_id is None:
            return self.name
        return f"{self.name} ({self.role}, token {self.prefix})"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _prefix_of(secret: str) -> str | None:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or not parts[1] or not parts[2]:
        return None
    return parts[1]


async def create_token(
    session: AsyncSession,
    *,
    role: Role,
    name: str,
    region_code: str | None,
    paslon: int | None,
    now: datetime,
) -> tuple[ApiToken, str]:
    """A new token and its secret. The secret is returned once and never stored."""
    if role is not Role.ADMIN and region_code is None:
        raise TokenError(f"a {role} token needs a region (--region)")
    if region_code is not None:
        try:
            level = level_of(region_code)
        except CodeError as error:
            raise TokenError(str(error)) from error
        if level is Level.TPS:
            raise TokenError(f"{region_code} is a TPS code; give the region it belongs to")
        if await session.get(Region, region_code) is None:
            raise TokenError(f"unknown region {region_code}: load the race first")
    if role is Role.OBSERVER and paslon is None:
        raise TokenError("an observer token speaks for one paslon: give its ballot number (--paslon)")
    if role is not Role.OBSERVER and paslon is not None:
        raise TokenError("only observer tokens carry a paslon")
    if paslon is not None and paslon < 1:
        raise TokenError("a ballot number is 1 or more")
    prefix = secrets.token_hex(4)
    secret = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        prefix=prefix,
        secret_sha256=_digest(secret),
        name=name,
        role=role.value,
        region_code=region_code,
        paslon=paslon,
        created_at=now,
        revoked_at=None,
    )
    session.add(token)
    await session.flush()
    return token, secret


async def revoke_token(session: AsyncSession, ident: str, *, now: datetime) -> ApiToken:
    """Revoke a token by its prefix (or numeric id); revoking twice keeps the first revocation time."""
    where = ApiToken.id == int(ident) if ident.isdigit() and len(ident) < 8 else ApiToken.prefix == ident
    token = await session.scalar(select(ApiToken).where(where).with_for_update())
    if token is None:
        raise TokenError(f"no token {ident!r}")
    if token.revoked_at is None:
        token.revoked_at = now
        await session.flush()
    return token


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    return list(await session.scalars(select(ApiToken).order_by(ApiToken.id)))


def bearer_secret(authorization: str | None) -> str | None:
    """The secret of an `Authorization: Bearer …` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


_BY_PREFIX = select(
    ApiToken.id,
    ApiToken.name,
    ApiToken.role,
    ApiToken.region_code,
    ApiToken.paslon,
    ApiToken.secret_sha256,
    ApiToken.revoked_at,
).where(ApiToken.prefix == bindparam("prefix"))


async def authenticate(session: AsyncSession, secret: str | None) -> Principal | str:
    """The principal behind a secret, or the reason it is refused (no token, unknown, revoked)."""
    if secret is None:
        return "a bearer token is required to write (Authorization: Bearer …)"
    prefix = _prefix_of(secret)
    token = None if prefix is None else (await session.execute(_BY_PREFIX, {"prefix": prefix})).one_or_none()
    if token is None or prefix is None or not hmac.compare_digest(token.secret_sha256, _digest(secret)):
        return "unknown token"
    if token.revoked_at is not None:
        return "this token has been revoked"
    return Principal(token.id, prefix, token.name, Role(token.role), token.region_code, token.paslon)


_REVOKED = select(ApiToken.id).where(
    ApiToken.id.in_(bindparam("ids", expanding=True)), ApiToken.revoked_at.is_not(None)
)


async def revoked_among(session: AsyncSession, token_ids: Iterable[int]) -> set[int]:
    """Which of these tokens are revoked now."""
    ids = sorted(set(token_ids))
    if not ids:
        return set()
    return set((await session.scalars(_REVOKED, {"ids": ids})).all())


class KnownTokens:
    """The principals of tokens seen lately, by the SHA-256 of the whole secret, so a writer's next submission is
    authenticated without a read. A token never changes but for its revocation, which the transaction that writes
    checks itself (`revoked_among`), and then `forget`s the token here."""

    def __init__(self, max_tokens: int = 10_000) -> None:
        self.max_tokens = max_tokens
        self._known: dict[str, Principal] = {}

    async def authenticate(self, session: AsyncSession, secret: str | None) -> Principal | str:
        digest = None if secret is None else _digest(secret)
        known = None if digest is None else self._known.get(digest)
        if known is not None:
            return known
        found = await authenticate(session, secret)
        if digest is not None and isinstance(found, Principal):
            if len(self._known) >= self.max_tokens:
                self._known.clear()
            self._known[digest] = found
        return found

    def forget(self, token_ids: Iterable[int]) -> None:
        gone = set(token_ids)
        self._known = {digest: p for digest, p in self._known.items() if p.token_id not in gone}
