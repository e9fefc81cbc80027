"""Errors a client may read. Anything else raised while resolving is masked as "Unexpected error."."""

from __future__ import annotations

from graphql import GraphQLError


class PublicError(Exception):
    """An expected failure whose message is safe and useful to show to any client."""


def should_mask(error: GraphQLError) -> bool:
    """Mask internal errors; keep syntax, validation and PublicError messages readable."""
    original = error.original_error
    return original is not None and not isinstance(original, PublicError | GraphQLError)
