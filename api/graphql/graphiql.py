"""GraphiQL without the internet: the page and every file it loads are served by the API itself.

strawberry-graphql ships only an HTML page that loads React, GraphiQL and its explorer plugin from a CDN (unpkg), so a
GraphiQL opened on a closed network stays a blank "Loading…". `graphiql_assets/` holds those same files, copied from
their npm packages and checked against the integrity hashes in strawberry's page (which ours keeps, so the browser
checks them too), gzip-compressed; `graphiql.html` is strawberry's page pointing at them.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSETS = Path(__file__).parent / "graphiql_assets"
PREFIX = "/graphiql/"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def page() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-cache"})


@cache
def _page() -> str:
    return (ASSETS / "graphiql.html").read_text(encoding="utf-8")


@cache
def _compressed(name: str) -> bytes | None:
    if "/" in name or name.startswith("."):
        return None
    path = ASSETS / f"{name}.gz"
    return path.read_bytes() if path.is_file() else None


async def asset(request: Request) -> Response:
    """One of the page's files, gzip-encoded when the client accepts it (every browser does)."""
    name = request.path_params["name"]
    data = _compressed(name)
    media = _TYPES.get(Path(name).suffix)
    if data is None or media is None:
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(data, media_type=media, headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(data), media_type=media, headers=headers)
