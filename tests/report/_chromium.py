"""Open a page in a real headless Chromium over the DevTools protocol (aiohttp websocket) and
collect what a user's browser would complain about: console errors, uncaught exceptions, log
entries of level error, failed resource loads. Also takes a full-page PNG screenshot."""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

INSTALL_HINT = "install it: apt-get install -y chromium (Debian/Ubuntu; binary /usr/bin/chromium)"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    """What the browser reported while loading the page, and the evaluated expressions."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.exceptions + self.log_errors + self.failed_requests


class _Session:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, check: PageCheck) -> None:
        self.ws, self.check = ws, check
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.loaded = asyncio.Event()

    async def read(self) -> None:
        async for message in self.ws:
            data = message.json()
            if "id" in data:
                future = self.pending.pop(data["id"], None)
                if future and not future.done():
                    future.set_result(data)
                continue
            self.event(data.get("method", ""), data.get("params", {}))

    def event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.check.console_errors.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.check.exceptions.append(str(text))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.check.log_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.check.requests.append(params.get("request", {}).get("url", ""))
        elif method == "Network.loadingFailed":
            self.check.failed_requests.append(f"{params.get('errorText')} ({params.get('type')})")
        elif method == "Page.loadEventFired":
            self.loaded.set()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        await self.ws.send_json({"id": message_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
        return dict(reply.get("result", {}))


async def check_page(
    url: str,
    *,
    screenshot: Path,
    profile_dir: Path,
    expressions: dict[str, str] | None = None,
    width: int = 1280,
    height: int = 1000,
) -> PageCheck:
    """Load ``url`` in headless Chromium, wait for the load event (+ a short settle), evaluate
    ``expressions`` (name -> JS), write a full-page screenshot, and return the findings."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError(f"Chromium not found; {INSTALL_HINT}")
    process = await asyncio.create_subprocess_exec(
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
        f"--user-data-dir={profile_dir}", "--remote-debugging-port=0", "--remote-allow-origins=*",
        f"--window-size={width},{height}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        port = await asyncio.wait_for(_devtools_port(process.stderr), 30)
        drain = asyncio.create_task(_drain(process.stderr))
        check = PageCheck()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t.get("type") == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                session = _Session(ws, check)
                reader = asyncio.create_task(session.read())
                try:
                    for domain in ("Runtime", "Log", "Page", "Network"):
                        await session.call(f"{domain}.enable")
                    await session.call("Page.navigate", url=url)
                    await asyncio.wait_for(session.loaded.wait(), 30)
                    await asyncio.sleep(0.5)  # late errors (timers, async handlers)
                    for name, expression in (expressions or {}).items():
                        result = await session.call(
                            "Runtime.evaluate", expression=expression, returnByValue=True
                        )
                        check.values[name] = result.get("result", {}).get("value")
                    metrics = await session.call("Page.getLayoutMetrics")
                    size = metrics.get("cssContentSize") or metrics["contentSize"]
                    shot = await session.call(
                        "Page.captureScreenshot",
                        format="png",
                        captureBeyondViewport=True,
                        clip={
                            "x": 0,
                            "y": 0,
                            "width": width,
                            "height": min(size["height"], 12000),
                            "scale": 1,
                        },
                    )
                    await asyncio.to_thread(screenshot.write_bytes, base64.b64decode(shot["data"]))
                finally:
                    reader.cancel()
        return check
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if drain is not None:
            drain.cancel()


async def _devtools_port(stream: asyncio.StreamReader) -> int:
    while True:
        line = (await stream.readline()).decode(errors="replace")
        if not line:
            raise RuntimeError("Chromium exited before opening the DevTools port")
        match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            return int(match.group(1))


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
