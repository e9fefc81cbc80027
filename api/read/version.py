"""A cheap token that changes whenever the data behind any answer changes (it feeds HTTP ETags)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import Race, Tally, Tps


async def data_version(session: AsyncSession) -> str:
    """Newest tally, TPS and race ids: every write adds a tally version, every bootstrap adds TPS or races."""
    newest = [select(func.max(model.id)).scalar_subquery() for model in (Tally, Tps, Race)]
    row = (await session.execute(select(*newest))).one()
    return "-".join(str(value or 0) for value in row)
