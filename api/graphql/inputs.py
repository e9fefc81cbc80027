"""Input objects built in one pass from the values graphql-core has already coerced.

Strawberry converts an input object field by field, resolving each field's annotation again on every request; for a
C.Hasil entry (a dozen fields and a list of votes) that was a tenth of a write's CPU. `built_directly` plans the
conversion once per input type: values of scalar and enum fields are taken as graphql-core coerced them (as
strawberry does), and nested inputs and lists go through strawberry's own conversion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from strawberry.relay.types import GlobalID
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryObjectDefinition, StrawberryOptional, has_object_definition

T = TypeVar("T", bound=type)

#: (GraphQL name, Python name, the field's type when its value needs strawberry's conversion, else None).
_Plan = list[tuple[str, str, Any]]


def built_directly(cls: T) -> T:
    """Give the input type a builder that converts its fields from a plan made at its first use."""
    definition: StrawberryObjectDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    planned: tuple[_Plan, dict[str, None]] | None = None

    def from_input(origin: type, value: Mapping[str, Any], context: InputContext) -> Any:
        nonlocal planned
        if planned is None:  # at the first use: the types of the fields are all resolvable by then
            planned = _plan(definition, context)
        plan, implicit = planned
        kwargs: dict[str, Any] = dict(implicit)
        for graphql_name, python_name, convert in plan:
            if graphql_name in value:
                given = value[graphql_name]
                kwargs[python_name] = given if convert is None else context.convert(given, convert, graphql_name)
        return origin(**kwargs)

    definition.from_input = from_input
    return cls


def _plan(definition: StrawberryObjectDefinition, context: InputContext) -> tuple[_Plan, dict[str, None]]:
    plan: _Plan = []
    for field in definition.fields:
        type_ = field.resolve_type(type_definition=definition)
        inner = type_.of_type if isinstance(type_, StrawberryOptional) else type_
        plan.append((context.config.name_converter.from_field(field), field.python_name, _conversion(type_, inner)))
    # As strawberry does: a field without a default is None until the value names it.
    implicit = {
        f.python_name: None
        for f in definition.fields
        if f.default_value is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return plan, implicit


def _conversion(type_: Any, inner: Any) -> Any:
    """None when graphql-core's value is already the Python value: a scalar or an enum member."""
    if isinstance(inner, type) and inner is not GlobalID and not has_object_definition(inner):
        return None
    return type_
