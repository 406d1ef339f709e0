"""A headless Chromium driven over the Chrome DevTools Protocol: just enough to open a page,
run a script in it, wait on a condition, take screenshots, and see every console error,
uncaught exception and network request the page made.

No browser-automation library: the protocol is JSON over one websocket (``websockets`` comes
with uvicorn[standard]). Debian's ``chromium`` package is the browser; ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import free_port

__all__ = ["Browser", "chromium", "open_browser"]

INSTALL = "apt-get update && apt-get install -y chromium"


def chromium() -> str:
    """The browser's path. Missing: the test fails under CI and skips, saying how, elsewhere."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = f"Debian's chromium is not installed: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class Browser:
    socket: ClientConnection
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Call a protocol method and return its result, recording events that came first."""
        call = next(self._ids)
        self.socket.send(json.dumps({"id": call, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if message.get("id") == call:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._record(message)

    def _record(self, message: dict[str, Any]) -> None:
        params = message.get("params", {})
        match message.get("method"):
            case "Runtime.consoleAPICalled" if params["type"] in ("error", "assert"):
                self.errors.append(f"console: {params['args']}")
            case "Runtime.exceptionThrown":
                self.errors.append(f"exception: {params['exceptionDetails']}")
            case "Log.entryAdded" if params["entry"]["level"] == "error":
                self.errors.append(f"log: {params['entry']}")
            case "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])

    def evaluate(self, expression: str) -> Any:
        """The value of a script run in the page (awaited when it is a promise)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Poll ``expression`` until it is truthy; fail with its last value after ``timeout``."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        pytest.fail(f"waited {timeout}s for {expression!r}; last value {value!r}")

    def open(self, url: str) -> None:
        """Navigate and wait until the document has loaded."""
        self.send("Page.navigate", url=url)
        self.wait_for(f"document.readyState === 'complete' && location.href === {json.dumps(url)}")

    def viewport(self, width: int, height: int, *, mobile: bool) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )

    def press(self, key: str, code: int) -> None:
        """A key pressed and released, as a keyboard user does (Tab: 9, Enter: 13)."""
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=key,
                windowsVirtualKeyCode=code,
                **({"text": "\r"} if key == "Enter" and kind == "keyDown" else {}),
            )

    def screenshot(self) -> bytes:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return base64.b64decode(data["data"])


@contextmanager
def open_browser() -> Iterator[Browser]:
    """A fresh headless Chromium (its own profile, no network of its own) and its one page."""
    binary = chromium()
    port = free_port()
    # ignore_cleanup_errors: a helper process of chromium's may still be writing as it ends.
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={port}",
                "--remote-allow-origins=*",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helper processes in a group of their own, ended with it
        )
        try:
            page = _page_socket(port, process)
            with connect(page, max_size=None, open_timeout=30) as socket:
                browser = Browser(socket)
                for domain in ("Page", "Runtime", "Log", "Network"):
                    browser.send(f"{domain}.enable")
                yield browser
        finally:
            _end(process)


def _end(process: subprocess.Popen[bytes]) -> None:
    """End the browser and every helper process it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _page_socket(port: int, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chromium exited with {process.returncode}")
        try:
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=1).json()
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            url: str = pages[0]["webSocketDebuggerUrl"]
            return url
        time.sleep(0.05)
    pytest.fail("chromium did not open its debugging port within 30 s")
