"""What a GraphQL document may be, checked in order, each before the next costs anything.

1. Size: a document longer than `max_document_bytes` is refused before it is parsed (`PantauSchema`).
2. Tokens: the parser stops after `max_tokens` (strawberry's MaxTokensLimiter).
3. Depth and aliases: validation rules (built once per schema, so validation is cached).
4. One operation: a document with several needs `operationName`.
5. Breadth: the values the operation would resolve, estimated with lists multiplied out (`api.graphql.complexity`),
   at most `max_complexity`.
6. Cost: one per field selected, counted on the parsed and validated document, then spent from the client's
   per-minute budget (`RateLimiter`), for HTTP and websocket operations alike. Over budget: a RATE_LIMITED error,
   which HTTP answers with 429 and Retry-After.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

from api.graphql.complexity import estimate
from api.graphql.ratelimit import RateLimiter
from api.storage.health import DatabaseOutage

RATE_LIMITED = "RATE_LIMITED"


@dataclass
class Edge:
    """What the edge knows about one request (or one websocket connection): who asks, and what befell it."""

    client: str
    limiter: RateLimiter | None = None
    outage: DatabaseOutage | None = None
    clock: Callable[[], float] = time.time
    #: Set when an operation was refused for the client's budget: seconds until it refills.
    retry_after: float | None = None


def document_cost(document: DocumentNode) -> int:
    """One per field selected (fragments counted where written), at least one."""
    counter = _FieldCounter()
    visit(document, counter)
    return max(1, counter.fields)


class _FieldCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.fields = 0

    def enter_field(self, node: FieldNode, *_: object) -> None:
        self.fields += 1


def edge_of(context: Any) -> Edge | None:
    found = getattr(context, "edge", None)
    return found if isinstance(found, Edge) else None


class OperationLimits(SchemaExtension):
    """Limits 4 to 6: one operation named, its breadth, then its cost spent from the client's budget."""

    def __init__(self, max_complexity: int = 15_000) -> None:
        super().__init__()
        self.max_complexity = max_complexity

    def on_validate(self) -> Iterator[None]:
        # Runs after ValidationCache has set the validation errors (extensions enter in order), and adds to them.
        context = self.execution_context
        document = context.graphql_document
        # Not `operation_name`: strawberry fills that in with the first operation's name.
        named = getattr(context, "_provided_operation_name", None)
        if document is not None and not context.pre_execution_errors:
            error = self._check(context.schema, document, named, context.variables)
            if error is not None:
                context.pre_execution_errors = [error]
        yield

    def _check(
        self, schema: Any, document: DocumentNode, named: str | None, variables: dict[str, Any] | None
    ) -> GraphQLError | None:
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        if operations > 1 and named is None:
            return GraphQLError(f"the document holds {operations} operations: name the one to run in operationName")
        values = estimate(schema._schema, document, named, variables, self.max_complexity)
        if values > self.max_complexity:
            return GraphQLError(
                f"this query would resolve more than {self.max_complexity} values (lists multiplied out): ask for"
                " fewer nested lists or smaller pages"
            )
        return None

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        edge = edge_of(context.context)
        if edge is not None and edge.limiter is not None and context.graphql_document is not None:
            cost = document_cost(context.graphql_document)
            retry_after = await edge.limiter.spend(edge.client, cost, edge.clock())
            if retry_after is not None:
                edge.retry_after = retry_after
                raise GraphQLError(
                    f"rate limit exceeded: this query costs {cost}; retry later",
                    extensions={"code": RATE_LIMITED, "retryAfter": max(1, round(retry_after))},
                )
        yield
