"""How many values a document may make the server resolve, estimated before it runs.

Depth and field counts do not see breadth: `children { parent { children { parent { … } } } }` stays within the
depth limit and costs a handful of fields, yet resolves twelve times more regions at each level. The estimate counts
each selected field once per value it will be resolved for: a field inside a list is counted `first` times (when the
list takes one) or `LIST_FACTOR` times. Fragments are counted where they are spread. The walk stops as soon as the
estimate passes the limit, so estimating costs at most `limit` steps whatever the document.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

#: Values assumed per list without a `first` (a kabupaten has about a dozen kecamatan, a kecamatan about ten desa).
LIST_FACTOR = 10


class _Over(Exception):
    pass


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limit: int,
) -> int:
    """The estimated number of field values; `limit + 1` as soon as it is known to be over `limit`."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(
        (o for o in operations if operation_name is None or (o.name is not None and o.name.value == operation_name)),
        None,
    )
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = _Walk(schema, fragments, variables or {}, limit)
    try:
        walk.selections(root, operation.selection_set, 1, ())
    except _Over:
        return limit + 1
    return walk.total


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        limit: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limit = limit
        self.total = 0

    def selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, times: int, spread: tuple[str, ...]
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.field(parent, selection, times, spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                found = self.schema.get_type(condition.name.value) if condition is not None else parent
                self.selections(found or parent, selection.selection_set, times, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:  # validation reports both
                    continue
                found = self.schema.get_type(fragment.type_condition.name.value)
                self.selections(found or parent, fragment.selection_set, times, (*spread, name))

    def field(self, parent: GraphQLNamedType, node: FieldNode, times: int, spread: tuple[str, ...]) -> None:
        self.total += times
        if self.total > self.limit:
            raise _Over
        fields: dict[str, GraphQLField] = getattr(parent, "fields", {})
        definition = fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            return
        inner = get_named_type(definition.type)
        self.selections(inner, node.selection_set, times * self.factor(parent, definition, node), spread)

    def factor(self, parent: GraphQLNamedType, definition: GraphQLField, node: FieldNode) -> int:
        if "first" in definition.args:
            given = self.first(node)
            default = definition.args["first"].default_value
            first = given if given is not None else default if isinstance(default, int) else LIST_FACTOR
            return max(1, first)
        of = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        if not isinstance(of, GraphQLList):
            return 1
        # The list inside a connection is as long as the connection's `first`, counted on the connection already.
        return 1 if parent.name.endswith("Connection") else LIST_FACTOR

    def first(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return given if isinstance(given, int) and not isinstance(given, bool) else None
        return None
