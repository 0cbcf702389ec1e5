"""Open a page in Debian's headless Chromium and report what happened: console errors, network requests,
and how each ``<img>`` decoded. Driven over the DevTools protocol (``--remote-debugging-port`` and a
WebSocket client, :mod:`websockets` — already installed with ``uvicorn[standard]``), so no browser download and
no extra driver: Playwright's package would bring its own Node driver to do the same few calls.

Chromium runs in its own process group with a fresh profile; :func:`open_pages` always ends it (the whole
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
from collections.abc import Sequence
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
    return open_pages([path], timeout)[0]


def open_pages(paths: Sequence[Path], timeout: float = 60.0) -> list[Page]:
    """Load each of ``paths`` (local files) in a tab of its own of one fresh headless Chromium (a new
    profile), one after the other, and report what each did. One browser for all: starting it is most of
    the cost."""
    from websockets.sync.client import connect

    profile = tempfile.mkdtemp(prefix="ratebench-chromium-")
    was_subreaper = _subreaper(True)  # chromium's orphaned helpers come to us to be reaped, not to init
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
            pages = [_load(s, path, timeout) for path in paths]
            with contextlib.suppress(Exception):
                s.call("Browser.close", 5.0)
        return pages
    finally:
        _end(proc)
        _subreaper(was_subreaper)
        shutil.rmtree(profile, ignore_errors=True)


def _load(s: _Session, path: Path, timeout: float) -> Page:
    url = path.resolve().as_uri()
    s.session_id = None
    target = s.call("Target.createTarget", url="about:blank")["targetId"]
    s.session_id = s.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    s.events = []
    for domain in ("Page", "Runtime", "Log", "Network"):
        s.call(f"{domain}.enable", timeout)
    s.call("Page.navigate", timeout, url=url)
    s.wait_for("Page.loadEventFired", timeout)
    s.drain(0.25)
    shown = s.call("Runtime.evaluate", timeout, expression=_IMAGES, returnByValue=True)
    images = tuple((str(a), bool(c), int(w), int(h)) for a, c, w, h in json.loads(shown["result"]["value"]))
    events = [e for e in s.events if e.get("sessionId") == s.session_id]
    s.call("Target.closeTarget", timeout, targetId=target)
    return Page(_errors(events), _requests(events, url), images)


def _subreaper(on: bool) -> bool:
    """Make this process the child subreaper (Linux ``prctl``), so that chromium's helpers, orphaned when it
    exits, become our children and :func:`_end` can reap them — in a container whose init reaps nothing they
    would stay zombies. Returns whether it was one before."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        before = ctypes.c_int(0)
        libc.prctl(37, ctypes.byref(before), 0, 0, 0)  # PR_GET_CHILD_SUBREAPER
        libc.prctl(36, int(on), 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        return bool(before.value)
    except (OSError, AttributeError):
        return False


def _end(proc: subprocess.Popen[bytes]) -> None:
    """End chromium and its helpers (zygote, renderers, GPU process: all in its process group). After
    ``Browser.close`` it exits by itself; otherwise SIGTERM, then SIGKILL. Helpers it did not wait for are
    killed too, and waited for as long as they stay alive (not zombies: those hold nothing)."""
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    deadline = time.monotonic() + 5.0
    while (left := _group(proc.pid)) and time.monotonic() < deadline:
        for pid, state in left:
            if state != "Z":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # ours once orphaned (we are the subreaper)
                os.waitpid(pid, os.WNOHANG)
        if all(state == "Z" for _, state in left) and not any(_ours(pid) for pid, _ in left):
            return  # zombies someone else must reap: nothing left running
        time.sleep(0.05)


def _ours(pid: int) -> bool:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
    except (OSError, IndexError, ValueError):
        return False


def _group(pgid: int) -> list[tuple[int, str]]:
    """The processes of process group ``pgid`` and their state letter, from /proc."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # After the ")" that ends the command name: state, ppid, pgrp.
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid:
            alive.append((int(entry), state))
    return alive


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
