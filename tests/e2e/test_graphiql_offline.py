"""GraphiQL with the network off (issue 13, case 7): `pantau api` and headless Chromium run in a network namespace of
their own that has only a loopback interface, the test drives Chromium over its DevTools pipe, and the page loads
and runs a query. Before, the page loaded seven files from a CDN and stayed a blank "Loading…"."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.databases import SqliteDatabases
from tests.servers import free_port

pytestmark = pytest.mark.e2e

QUERY = '{ region(code: "5304") { name tpsTotal } }'

# Inside the namespace: bring up loopback, start the API, wait for it, then run Chromium with DevTools on fds 3/4.
LAUNCH = """
ip link set lo up
"$PYTHON" -m api --port "$PORT" &
api=$!
trap 'kill $api' EXIT
until "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz')" 2>/dev/null; do
  kill -0 $api || exit 1
  sleep 0.2
done
chromium --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir="$PROFILE" \\
  --remote-debugging-pipe about:blank
"""


class DevTools:
    """The Chrome DevTools Protocol over `--remote-debugging-pipe`: NUL-separated JSON both ways."""

    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.process = process
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.ids = 0
        self.buffer = b""
        self.events: list[dict[str, Any]] = []

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_browser, 65536)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.ids += 1
        message: dict[str, Any] = {"id": self.ids, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self.ids:
                assert "error" not in answer, answer
                result: dict[str, Any] = answer["result"]
                return result
            self.events.append(answer)

    def evaluate(self, session: str, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return answer["result"].get("value")

    def wait_for(self, session: str, expression: str, seconds: float = 60) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            value = self.evaluate(session, expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.2)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_graphiql_loads_and_runs_a_query_with_the_network_off(database_servers: dict[str, Any], tmp_path: Path) -> None:
    sqlite = database_servers["sqlite"]
    assert isinstance(sqlite, SqliteDatabases)
    port = free_port()
    to_browser_read, to_browser = os.pipe()
    from_browser, from_browser_write = os.pipe()
    profile = tempfile.mkdtemp(prefix="pantau-chromium-")
    env = {
        **os.environ,
        "PANTAU_DATABASE_URL": sqlite.create("belu"),
        "PANTAU_DEVELOPMENT": "1",
        "PYTHON": sys.executable,
        "PORT": str(port),
        "PROFILE": profile,
    }
    process = subprocess.Popen(
        ["unshare", "--net", "bash", "-c", f"exec 3<&{to_browser_read} 4>&{from_browser_write}; {LAUNCH}"],
        env=env,
        pass_fds=(to_browser_read, from_browser_write),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "namespace.log").open("w"),
    )
    os.close(to_browser_read)
    os.close(from_browser_write)
    browser = DevTools(process, to_browser, from_browser)
    try:
        base = f"http://127.0.0.1:{port}"
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        browser.call("Network.enable", session)
        browser.call("Page.enable", session)
        browser.call("Page.navigate", session, url=f"{base}/graphql?q={quote(QUERY)}")
        browser.wait_for(session, "!!document.querySelector('.graphiql-execute-button')")
        browser.evaluate(session, "document.querySelector('.graphiql-execute-button').click()")
        shown = browser.wait_for(
            session, "(document.querySelector('.graphiql-response') || {}).innerText || ''", seconds=30
        )
        deadline = time.monotonic() + 30
        while '"tpsTotal"' not in shown:
            assert time.monotonic() < deadline, shown
            shown = browser.evaluate(session, "document.querySelector('.graphiql-response').innerText")
        assert '"name": "BELU"' in shown and '"tpsTotal": 426' in shown, shown
        picture = browser.call("Page.captureScreenshot", session)["data"]
        (tmp_path / "graphiql.png").write_bytes(base64.b64decode(picture))
        requested = [
            e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"
        ]
        assert any(url.startswith(f"{base}/graphiql/graphiql.min.js") for url in requested), requested
        assert all(url.startswith((base, "data:")) for url in requested), requested
    finally:
        os.close(to_browser)
        process.terminate()
        process.wait(timeout=30)
        os.close(from_browser)
        shutil.rmtree(profile, ignore_errors=True)
