"""GraphQL-over-HTTP requests read from the wire: a bounded body, strict JSON, the request's shape checked.

Everything here raises `BadRequest` (a status and a message quoting at most a short prefix of what was sent), so no
input reaches the executor malformed and nothing malformed answers 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope

from api.graphql.errors import quoted

#: JSON in a request (variables, extensions) nests at most this deep; Pantau's inputs need four levels.
MAX_JSON_DEPTH = 32


class BadRequest(Exception):
    def __init__(
        self, status: int, message: str, headers: Mapping[str, str] | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        #: The error's `extensions.code`, where clients act on it (a persisted query to send again).
        self.code = code


@dataclass(frozen=True)
class GraphQLRequest:
    #: None only when the request names a persisted query by its hash instead (`api.graphql.persisted`).
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


class BodyTooLarge(BadRequest):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) from its Content-Length before anything is read, or as soon as it grows
    past `limit` when it is sent in chunks."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise BadRequest(400, "the Content-Length header is not a number") from None
            if declared > limit:
                raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest(400, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse_json(raw: bytes | str, what: str = "the body") -> Any:
    """JSON from UTF-8 text, at most MAX_JSON_DEPTH deep; a 400 for anything else."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise BadRequest(400, f"{what} is not valid UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadRequest(400, f"{what} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        raise BadRequest(400, f"{what} is not JSON: {error}") from None
    _check_depth(value, what)
    return value


def _check_depth(value: Any, what: str) -> None:
    """Iteratively, so the check itself cannot recurse too deep; strings must encode as UTF-8 (no lone surrogates)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(400, f"{what} holds a string that is not valid Unicode") from None
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(400, f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
        children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
        for key, child in children:
            if key is not None:
                stack.append((key, depth))
            stack.append((child, depth + 1))


def graphql_requests(payload: Any, max_batch: int) -> list[GraphQLRequest] | GraphQLRequest:
    """The operations of a POST body: one object, or a list of them (a batch)."""
    if isinstance(payload, list):
        if not payload:
            raise BadRequest(400, "a batch must hold at least one operation")
        if len(payload) > max_batch:
            raise BadRequest(400, f"Too many operations: a batch may hold at most {max_batch}")
        return [_request(item, f"operation {i + 1} of the batch") for i, item in enumerate(payload)]
    return _request(payload, "the body")


def from_query_string(params: Mapping[str, str]) -> GraphQLRequest:
    """A GET request's operation from its query parameters (`variables` and `extensions` as JSON)."""
    payload: dict[str, Any] = {"query": params.get("query"), "operationName": params.get("operationName") or None}
    for name in ("variables", "extensions"):
        raw = params.get(name)
        if raw:
            payload[name] = parse_json(raw, f"the {name} parameter")
    return _request(payload, "the query string")


def _request(item: Any, what: str) -> GraphQLRequest:
    if not isinstance(item, dict):
        raise BadRequest(400, f"{what} must be a JSON object with a query, not {quoted(item)}")
    query = item.get("query")
    extensions = item.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest(400, f"`extensions` must be an object, not {quoted(extensions)}")
    hashed = query is None and extensions is not None and "persistedQuery" in extensions
    if not hashed and (not isinstance(query, str) or not query.strip()):
        given = "no query" if query is None else f"query {quoted(query)}"
        raise BadRequest(400, f"{what} must hold a GraphQL document in `query` (a non-empty string); got {given}")
    variables = item.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest(400, f"`variables` must be an object, not {quoted(variables)}")
    name = item.get("operationName")
    if name is not None and not isinstance(name, str):
        raise BadRequest(400, f"`operationName` must be a string, not {quoted(name)}")
    return GraphQLRequest(query, variables, name, extensions)
