"""The schema and its safety limits (the order in which they apply: `api.graphql.limits`).

The depth and alias validation rules are built once per schema, so every request hands strawberry's validation
cache the same rule classes and a repeated query is validated once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeGuard

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLObjectType, GraphQLSchema
from strawberry.execution import optimized_is_awaitable
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
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError
from strawberry.types.field import StrawberryField

from api.graphql import errors
from api.graphql.audit import QueryWithAudit
from api.graphql.context import FreshLoaders
from api.graphql.errors import should_mask
from api.graphql.limits import OperationLimits, edge_of
from api.graphql.mutations import Mutation
from api.graphql.subscriptions import Subscription
from api.settings import Settings

#: Types whose values are never awaitable: every value a field resolves is asked, and the objects of the schema's
#: own types would otherwise each cost the general check (two isinstance calls and a failed attribute lookup).
_NEVER_AWAITABLE: set[type] = {type(None), bool, int, float, str, list, tuple, dict, datetime, date}


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    if type(value) in _NEVER_AWAITABLE:
        return False
    return optimized_is_awaitable(value)


class _ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = _is_awaitable


class PantauSchema(strawberry.Schema):
    """A schema that refuses over-long documents before parsing them and logs errors the way `errors` says."""

    max_document_bytes: int = 32 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("execution_context_class", _ExecutionContext)
        super().__init__(*args, **kwargs)
        _read_attributes_directly(self._schema)

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


def _read_attributes_directly(schema: GraphQLSchema) -> None:
    """Give every field without a resolver (strawberry's "basic" fields) a resolver that reads the attribute.

    Strawberry resolves such a field through three calls (its wrapper, `StrawberryField.get_result`, then the
    configured default resolver, `getattr`); on a breakdown or a page of TPS those are most of the fields. The same
    `getattr` in one call gives the same value at a third of the cost. Fields with a resolver, arguments or field
    extensions keep strawberry's own.
    """
    for named in schema.type_map.values():
        definition = (named.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        origin = getattr(definition, "origin", None)
        if isinstance(origin, type) and not named.name.startswith("__"):
            _NEVER_AWAITABLE.add(origin)  # the object types' classes, and the enums' Python classes
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for graphql_field in named.fields.values():
            if not getattr(graphql_field.resolve, "_is_default", False):
                continue
            definition = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(definition, StrawberryField) and definition.is_basic_field:
                graphql_field.resolve = _attribute(definition.python_name)


def _attribute(name: str) -> Callable[..., Any]:
    def resolve(source: Any, _info: Any) -> Any:
        return getattr(source, name)

    return resolve


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
