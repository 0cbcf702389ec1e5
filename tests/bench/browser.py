"""Open a page in Debian's headless Chromium and report what happened: console errors, network requests,
and how each ``<img>`` decoded. Driven over the DevTools protocol (``--remote-debugging-port`` and a
WebSocket client, :mod:`websockets` — already installed with ``uvicorn[standard]``), so no browser download and
no extra driver: Playwright's package would bring its own Node driver to do the same few calls.

Chromium runs in its own process group with a fresh profile; :func:`open_page` always ends it (the whole
group) before returning or raising, so a failing test leaves no browser behind.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
#: The flags the team settled on: no sandbox (root in CI), nothing a first run or a background service would fetch.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not installed (Debian package 'chromium'; `make system-deps` installs it as root)"
    return None


@dataclass(frozen=True)
class Page:
    """What one page load showed: ``errors`` (console errors, uncaught exceptions, log entries of level
    error), ``requests`` (every URL requested other than the page itself and ``data:`` URIs) and ``images``
    (per ``<img>``: ``alt``, ``complete``, ``naturalWidth``, ``naturalHeight``)."""

    errors: tuple[str, ...]
    requests: tuple[str, ...]
    images: tuple[tuple[str, bool, int, int], ...]


class _Session:
    """Commands to one attached target over the browser's WebSocket; events kept as they arrive."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.session_id: str | None = None

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        i = next(self.ids)
        msg: dict[str, Any] = {"id": i, "method": method, "params": params}
        if self.session_id and not method.startswith("Target."):
            msg["sessionId"] = self.session_id
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if reply.get("id") == i:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        if any(e["method"] == method for e in self.events):
            return
        deadline = time.monotonic() + timeout
        while True:
            event = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if "method" in event:
                self.events.append(event)
                if event["method"] == method:
                    return

    def drain(self, seconds: float) -> None:
        """Collect events for ``seconds`` more (late console messages, late requests)."""
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                event = json.loads(self.ws.recv(timeout=left))
                if "method" in event:
                    self.events.append(event)


_IMAGES = ("JSON.stringify([...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]))")


def open_page(path: Path, timeout: float = 60.0) -> Page:
    """Load ``path`` (a local file) in a fresh headless Chromium and report what it did."""
    from websockets.sync.client import connect

    url = path.resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="ratebench-chromium-")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode} before opening its DevTools port")
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromium opened no DevTools port within {timeout:g} s")
            time.sleep(0.05)  # a test helper in a plain thread, no event loop: waiting on a file chromium writes
        port, ws_path = port_file.read_text().splitlines()[:2]
        with connect(f"ws://127.0.0.1:{port}{ws_path}", max_size=None, proxy=None, open_timeout=timeout) as ws:
            s = _Session(ws)
            target = s.call("Target.createTarget", url="about:blank")["targetId"]
            s.session_id = s.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                s.call(f"{domain}.enable", timeout)
            s.call("Page.navigate", timeout, url=url)
            s.wait_for("Page.loadEventFired", timeout)
            s.drain(0.5)
            shown = s.call("Runtime.evaluate", timeout, expression=_IMAGES, returnByValue=True)
            images = tuple((str(a), bool(c), int(w), int(h))
                           for a, c, w, h in json.loads(shown["result"]["value"]))
            with contextlib.suppress(Exception):
                s.call("Browser.close", 5.0)
        return Page(_errors(s.events), _requests(s.events, url), images)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        _reap_group(proc.pid)
        shutil.rmtree(profile, ignore_errors=True)


def _reap_group(pgid: int) -> None:
    """Chromium's helpers (zygote, renderer, GPU process) share its process group; end any still there."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.05)


def _errors(events: list[dict[str, Any]]) -> tuple[str, ...]:
    out = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif e["method"] == "Runtime.exceptionThrown":
            out.append("exception: " + str(p["exceptionDetails"].get("text", "")))
        elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log ({p['entry'].get('source')}): {p['entry'].get('text')} {p['entry'].get('url', '')}")
    return tuple(out)


def _requests(events: list[dict[str, Any]], page: str) -> tuple[str, ...]:
    urls = (e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent")
    return tuple(u for u in urls if u != page and not u.startswith("data:"))
