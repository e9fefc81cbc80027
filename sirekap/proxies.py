"""The proxy the environment names for a Sirekap URL, as curl and httpx read it.

`HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` (either case), with the hosts `NO_PROXY` lists going direct. The sync's
and the monitor's own HTTP clients connect directly, so where a proxy is named for the Sirekap host both hand the
requests to httpx's transport instead, which goes through it.
"""

from __future__ import annotations

import urllib.parse
import urllib.request


def environment_proxy(url: str) -> str | None:
    """The proxy URL to reach `url` through, or None to connect directly."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy
