"""Persisted queries, compatible with Apollo's automatic persisted queries (APQ).

A client names its document by SHA-256 in `extensions.persistedQuery` (`{"version": 1, "sha256Hash": "<hex>"}`):

- the hash alone, when the document is known: it is run. By GET this makes a short URL a CDN can keep
  (`?extensions={"persistedQuery":...}&variables=...`), and its answer is cached like any GET answer.
- the hash alone, when it is not known: 404 with `PERSISTED_QUERY_NOT_FOUND`; the client sends the hash again with
  the document, which registers it.
- a document whose SHA-256 is not the hash: 400.

A document is registered only once it has run without request errors (it parsed, validated and fit the limits), so
the store holds nothing a client could not have run. It is kept by each worker (the newest `entries`) and, with
Redis, shared by every worker and replica for `ttl_seconds`. A store that cannot be reached only makes clients send
documents again.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import replace

from redis.asyncio import Redis

from api.graphql.body import BadRequest, GraphQLRequest
from api.storage.shared_store import SharedStore

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"

_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryNotFound(BadRequest):
    def __init__(self) -> None:
        super().__init__(404, "PersistedQueryNotFound", code=NOT_FOUND)


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def requested_hash(request: GraphQLRequest) -> str | None:
    """The hash a request names, checked: None when it names none."""
    extensions = request.extensions or {}
    if "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise BadRequest(400, 'unsupported persistedQuery: send {"version": 1, "sha256Hash": "<64 hex digits>"}')
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise BadRequest(400, "persistedQuery.sha256Hash must be 64 lowercase hexadecimal digits")
    if request.query is not None and sha256_of(request.query) != digest:
        raise BadRequest(400, "provided sha does not match query")
    return digest


class PersistedQueries:
    def __init__(self, redis: Redis | None, prefix: str, *, entries: int = 1024, ttl_seconds: int = 86_400) -> None:
        self.shared = SharedStore(redis, f"{prefix}:apq:", "persisted queries")
        self.entries = entries
        self.ttl_seconds = ttl_seconds
        self.documents: OrderedDict[str, str] = OrderedDict()

    async def resolve(self, request: GraphQLRequest) -> tuple[GraphQLRequest, str | None]:
        """The request with its document, and the hash to register once it has run (None: nothing to register)."""
        digest = requested_hash(request)
        if digest is None:
            return request, None
        if request.query is not None:
            return request, None if digest in self.documents else digest
        query = self.documents.get(digest)
        if query is None:
            query = await self._shared(digest)
            if query is None:
                raise PersistedQueryNotFound
            self._keep(digest, query)
        self.documents.move_to_end(digest)
        return replace(request, query=query), None

    async def register(self, digest: str, query: str) -> None:
        self._keep(digest, query)
        await self.shared.set(digest, query, self.ttl_seconds)

    async def _shared(self, digest: str) -> str | None:
        found = await self.shared.get(digest)
        if found is None:
            return None
        text = found.decode()
        # The store is shared: a document under a hash it does not have is never run.
        return text if sha256_of(text) == digest else None

    def _keep(self, digest: str, query: str) -> None:
        self.documents[digest] = query
        self.documents.move_to_end(digest)
        while len(self.documents) > self.entries:
            self.documents.popitem(last=False)
