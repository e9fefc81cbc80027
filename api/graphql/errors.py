"""Errors a client may read. Anything else raised while resolving is masked as "Unexpected error.".

Every error's message is shortened before it is logged or answered: a pasted megabyte is quoted by its first
characters. Expected errors (syntax, validation, limits, bad arguments) log one line without a traceback; an
unexpected one logs its traceback once; a database that cannot be reached logs one line per outage.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError
from strawberry.schema.exceptions import InvalidOperationTypeError

from api.storage.health import DatabaseOutage, unreachable_reason

log = logging.getLogger("pantau.api.graphql")

#: A value quoted in a message is cut to this many characters.
QUOTED = 40
MESSAGE = 300
_LONG_WORD = re.compile(rf"\S{{{QUOTED + 8},}}")

DATABASE_UNREACHABLE = "the database is unreachable; retry in a few seconds"
#: Only the older graphql-ws websocket protocol restricts operations (HTTP answers 405 itself).
SUBSCRIPTIONS_ONLY = (
    "the graphql-ws protocol carries subscriptions only: send queries and mutations over graphql-transport-ws or POST"
)


class PublicError(Exception):
    """An expected failure whose message is safe and useful to show to any client."""


def shorten(message: str) -> str:
    """Long runs without spaces (a pasted value) cut to their first characters; the whole to 300 characters."""
    short = _LONG_WORD.sub(lambda m: m.group()[:QUOTED] + "…", message)
    return short if len(short) <= MESSAGE else short[:MESSAGE] + "…"


def quoted(value: object) -> str:
    """`value` for a message: repr'd, and cut to a short prefix when long."""
    text = repr(value)
    return text if len(text) <= QUOTED else text[:QUOTED] + "…"


def expected(error: GraphQLError) -> bool:
    """Syntax, validation, limits, bad arguments: the client's doing, with a message meant for it."""
    original = error.original_error
    return original is None or isinstance(original, PublicError | GraphQLError | InvalidOperationTypeError)


def should_mask(error: GraphQLError) -> bool:
    """Mask internal errors; keep expected errors and database-outage messages readable."""
    return not expected(error) and error.message != DATABASE_UNREACHABLE


def process_errors(errors: list[GraphQLError], operation: str | None, outage: DatabaseOutage | None) -> None:
    """Shorten, then log each error once: one line if expected, with its traceback if not."""
    for error in errors:
        error.message = shorten(error.message)
        original = error.original_error
        reason = unreachable_reason(original) if original is not None else None
        if reason is not None:
            error.message = DATABASE_UNREACHABLE
            if outage is not None:
                outage.failed(reason)
            else:
                log.error("database unreachable: %s", reason)
        elif expected(error):
            if isinstance(original, InvalidOperationTypeError):
                error.message = SUBSCRIPTIONS_ONLY
            log.info("graphql %s: %s%s", operation or "request", error.message, _where(error))
        else:
            log.error(
                "unexpected error in %s%s: %s",
                operation or "request",
                _where(error),
                shorten(repr(original)),
                exc_info=original,
            )


def _where(error: GraphQLError) -> str:
    return f" at {'.'.join(str(p) for p in error.path)}" if error.path else ""


def graphql_error(message: str, code: str | None = None, **extensions: Any) -> dict[str, Any]:
    """A GraphQL-shaped error for answers made outside execution (bad requests, limits, outages)."""
    error: dict[str, Any] = {"message": shorten(message)}
    if code is not None:
        error["extensions"] = {"code": code, **extensions}
    return error
