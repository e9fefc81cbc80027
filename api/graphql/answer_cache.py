"""Answers to queries kept by data version, in each worker and, with Redis, shared by every worker and replica.

- The key is the operation: its document's SHA-256, its name and its variables as canonical JSON. The same operation
  asked by GET or POST, as a document or by persisted hash, finds the same answer.
- An answer is kept under the data version read before it ran (`api.read.version`). The data only grows newer after
  that, so no answer is older than its version. Every write and sync pass changes the version, which retires every
  answer at once: a worker reads the version at most once per `cache_version_seconds`, and the old entries expire.
- A worker looks in its own entries first (the newest `entries`, at most `kept_bytes` in all), then in Redis, and
  keeps what Redis gave it. An answer larger than `max_bytes` is not kept.
- Kept: a query's answer without errors, to a request without Authorization (an answer may depend on who asks).
  Never kept: mutations, and documents that select `upstream`, which is the monitor's view and no version covers.
- A Redis that cannot be reached (or answers slower than `api.storage.shared_store.TIMEOUT_SECONDS`) is a miss,
  never a failed request.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import OrderedDict

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from prometheus_client import CollectorRegistry, Counter
from redis.asyncio import Redis

from api.graphql.body import GraphQLRequest
from api.graphql.persisted import sha256_of
from api.storage.shared_store import SharedStore

#: Root fields whose answers are not made of stored data alone.
LIVE_FIELDS = frozenset({"upstream"})


def answer_key(request: GraphQLRequest) -> str:
    assert request.query is not None
    variables = json.dumps(request.variables or {}, sort_keys=True, separators=(",", ":"))
    operation = request.operation_name or ""
    text = f"{sha256_of(request.query)}\n{operation}\n{variables}"
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=512)
def operation_kind(query: str, operation_name: str | None) -> tuple[str | None, bool]:
    """The operation's type ("query", "mutation", "subscription"; None when the document names no single one),
    and whether its answer is made of stored data alone (no live root field). Parsed once per document and name."""
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return None, False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if len(chosen) != 1:
        return None, False
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    stored = not _root_fields(chosen[0].selection_set, fragments, set()) & LIVE_FIELDS
    return chosen[0].operation.value, stored


def _root_fields(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> set[str]:
    names: set[str] = set()
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names |= _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                names |= _root_fields(fragment.selection_set, fragments, seen)
    return names


class AnswerCache:
    def __init__(
        self,
        redis: Redis | None,
        prefix: str,
        registry: CollectorRegistry,
        *,
        ttl_seconds: int = 60,
        entries: int = 512,
        max_bytes: int = 1_000_000,
        kept_bytes: int = 64_000_000,
    ) -> None:
        self.shared = SharedStore(redis, f"{prefix}:answer:", "kept answers")
        self.ttl_seconds = ttl_seconds
        self.entries = entries
        self.max_bytes = max_bytes
        self.kept_bytes = kept_bytes
        self.answers: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._size = 0
        lookups = Counter(
            "pantau_answer_cache_lookups",
            "Query answers looked up by data version: found in this worker, in the shared cache, or not at all.",
            ["found"],
            registry=registry,
        )
        self._found_here = lookups.labels("worker")
        self._found_shared = lookups.labels("shared")
        self._found_nowhere = lookups.labels("no")

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    async def get(self, key: str, version: str) -> bytes | None:
        kept = self.answers.get(key)
        if kept is not None and kept[0] == version:
            self.answers.move_to_end(key)
            self._found_here.inc()
            return kept[1]
        body = await self.shared.get(f"{version}:{key}")
        if body is None:
            self._found_nowhere.inc()
            return None
        self._found_shared.inc()
        self._keep(key, version, body)
        return body

    async def put(self, key: str, version: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        self._keep(key, version, body)
        await self.shared.set(f"{version}:{key}", body, self.ttl_seconds)

    def _keep(self, key: str, version: str, body: bytes) -> None:
        replaced = self.answers.pop(key, None)
        if replaced is not None:
            self._size -= len(replaced[1])
        self.answers[key] = (version, body)
        self._size += len(body)
        while len(self.answers) > self.entries or self._size > self.kept_bytes:
            _, (_, dropped) = self.answers.popitem(last=False)
            self._size -= len(dropped)
