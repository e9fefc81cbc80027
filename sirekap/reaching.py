"""How the sync and the monitor reach the Sirekap host: the proxy the environment names, and what kept a
connection from opening.

Proxies are read as curl and httpx read them: `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` (either case), with the
hosts `NO_PROXY` lists going direct. The sync's and the monitor's own HTTP clients connect directly, so where a
proxy is named for the Sirekap host both hand the requests to httpx's transport instead, which goes through it.
"""

from __future__ import annotations

import socket
import ssl
import urllib.parse
import urllib.request
from typing import Literal

#: Why a connection did not open: its TLS handshake failed (an unverified certificate, say), the host name is not
#: known, or (anything else) it was refused.
ConnectFailure = Literal["tls", "unknown_host", "refused"]


def environment_proxy(url: str) -> str | None:
    """The proxy URL to reach `url` through, or None to connect directly."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def connect_failure(error: BaseException) -> tuple[ConnectFailure, str]:
    """Why a connection did not open, from the errors `error` was raised from, with the TLS library's reason."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return "tls", getattr(cause, "reason", None) or type(cause).__name__
        if isinstance(cause, socket.gaierror):
            return "unknown_host", ""
        cause = cause.__cause__ or cause.__context__
    return "refused", ""
