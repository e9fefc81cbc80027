"""What every paged connection says about where its page ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import strawberry


class Edge(Protocol):
    cursor: str


@strawberry.type(description="Where a page ends and whether more follow.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether another page follows.")
    end_cursor: str | None = strawberry.field(description="The cursor of the last edge.")

    @classmethod
    def of(cls, edges: Sequence[Edge], has_next_page: bool) -> PageInfo:
        return cls(has_next_page=has_next_page, end_cursor=edges[-1].cursor if edges else None)
