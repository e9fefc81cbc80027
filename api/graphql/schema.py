"""The schema and its safety limits (the order in which they apply: `api.graphql.limits`).

The depth and alias validation rules are built once per schema, so every request hands strawberry's validation
cache the same rule classes and a repeated query is validated once.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError

from api.graphql import errors
from api.graphql.audit import QueryWithAudit
from api.graphql.context import FreshLoaders
from api.graphql.errors import should_mask
from api.graphql.limits import OperationLimits, edge_of
from api.graphql.mutations import Mutation
from api.graphql.subscriptions import Subscription
from api.settings import Settings


class PantauSchema(strawberry.Schema):
    """A schema that refuses over-long documents before parsing them and logs errors the way `errors` says."""

    max_document_bytes: int = 32 * 1024

    def process_errors(self, errors_: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        edge = edge_of(execution_context.context) if execution_context is not None else None
        operation = execution_context.operation_name if execution_context is not None else None
        errors.process_errors(errors_, operation, edge.outage if edge is not None else None)

    async def _prepare_operation_async(self, context: ExecutionContext, extensions_runner: Any) -> Any:
        # The one place both HTTP (execute) and websocket (stream) operations pass before parsing.
        query = context.query
        if query is not None and len(query) > self.max_document_bytes:
            error = GraphQLError(
                f"the document is {len(query)} characters long; at most {self.max_document_bytes} are accepted"
            )
            context.pre_execution_errors = [error]
            return PreExecutionError(data=None, errors=[error])
        return await super()._prepare_operation_async(context, extensions_runner)


def build_schema(
    settings: Settings,
    *,
    mutation: type | None = Mutation,
    subscription: type | None = Subscription,
) -> strawberry.Schema:
    rules: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_depth, None, None),
        alias_rule(settings.max_aliases),
    ]
    extensions: list[Any] = [
        lambda: MaskErrors(should_mask_error=should_mask),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=512),
        lambda: OperationLimits(settings.max_complexity),  # after ValidationCache: it adds to its errors
        FreshLoaders,
    ]
    if not settings.development:
        extensions.append(DisableIntrospection)
    schema = PantauSchema(
        query=QueryWithAudit,
        mutation=mutation,
        subscription=subscription,
        extensions=extensions,
        config=StrawberryConfig(batching_config={"max_operations": settings.max_batch}),
    )
    schema.max_document_bytes = settings.max_document_bytes
    return schema


def export_schema() -> str:
    """The SDL that `schema.graphql` holds."""
    return build_schema(Settings(development=True)).as_str() + "\n"


__all__ = ["SchemaExtension", "build_schema", "export_schema"]
