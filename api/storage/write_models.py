"""Storage for the write side: bearer tokens, the audit log and idempotency keys.

A token's secret is never stored: only its SHA-256 and a short public prefix to find the row by. Audit entries keep
who wrote what, with the old and new values as JSON, and are never updated. An idempotency key remembers the outcome
of the write it applied, so a retried submission is answered from it instead of being applied twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.storage.models import Base


class ApiToken(Base):
    """A bearer token: a role, the region it may write in, and for observers the paslon whose post it speaks for."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    #: None: every region (admins only).
    region_code: Mapped[str | None] = mapped_column(String(10))
    #: The ballot number an observer's claims are labelled with.
    paslon: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One applied write: who (token and its name), when, what, and the values before and after."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_subject", "race_id", "subject_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    race_id: Mapped[int | None] = mapped_column(ForeignKey("races.id"))
    source: Mapped[str | None] = mapped_column(String(16))
    subject_code: Mapped[str | None] = mapped_column(String(13))
    claimant: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int | None] = mapped_column(Integer)
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)


class IdempotencyKey(Base):
    """The outcome of a write submitted with a client-chosen key, per token."""

    __tablename__ = "idempotency_keys"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]
