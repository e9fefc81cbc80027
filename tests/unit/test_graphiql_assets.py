"""The GraphiQL page names only files the API serves itself, each byte for byte what its integrity hash says."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re

from api.graphql.graphiql import ASSETS, PREFIX


def test_every_file_the_page_loads_is_shipped_and_intact() -> None:
    page = (ASSETS / "graphiql.html").read_text()
    loaded = re.findall(r'(?:src|href)="([^"]+)"\s+integrity="(sha\d+)-([^"]+)"', page)
    assert len(loaded) == 7
    for url, algorithm, digest in loaded:
        assert url.startswith(PREFIX), url
        data = gzip.decompress((ASSETS / f"{url.removeprefix(PREFIX)}.gz").read_bytes())
        assert base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == digest, url
    assert "https://" not in page.replace("http://www.w3.org/2000/svg", "")
