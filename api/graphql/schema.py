"""The schema and its safety limits.

The depth and alias validation rules are built once per schema, so every request hands strawberry's validation
cache the same rule classes and a repeated query is validated once.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import ASTValidationRule
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

from api.graphql.errors import should_mask
from api.graphql.mutations import Mutation, QueryWithAudit
from api.graphql.subscriptions import Subscription
from api.settings import Settings


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
    ]
    if not settings.development:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=QueryWithAudit,
        mutation=mutation,
        subscription=subscription,
        extensions=extensions,
        config=StrawberryConfig(batching_config={"max_operations": settings.max_batch}),
    )


def export_schema() -> str:
    """The SDL that `schema.graphql` holds."""
    return build_schema(Settings(development=True)).as_str() + "\n"


__all__ = ["SchemaExtension", "build_schema", "export_schema"]
