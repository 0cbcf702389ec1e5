"""The connection guard on a real server: oversized request heads and slowloris clients are cut off.

Real sockets, so only robust facts are asserted: statuses, what the app logged, bounds with wide margins.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import httpx
import pytest

from mock_server.guard import MAX_HEAD_BYTES
from mock_server.process import ServerProcess

pytestmark = pytest.mark.realserver


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def logged(server: ServerProcess) -> int:
    n: int = httpx.get(f"{server.base_url}/__admin/stats", headers=server.admin_headers).json()["logged"]
    return n


def send_and_read(port: int, head: bytes, chunk: int = 64 * 1024) -> bytes:
    """Send ``head`` (stopping if the server hangs up), then read what the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with contextlib.suppress(ConnectionError):
            for i in range(0, len(head), chunk):
                s.sendall(head[i:i + chunk])
        out = b""
        with contextlib.suppress(ConnectionError, TimeoutError):
            while data := s.recv(65536):
                out += data
                if b"\r\n\r\n" in out and b"connection: close" not in out.lower():
                    break
        return out


def test_oversized_head_is_refused_before_it_grows_the_server() -> None:
    # One request with 200 MB of headers once grew the server by 230 MB; 8 MB shows it as well.
    with ServerProcess() as server:
        ok = send_and_read(server.port, b"GET /v1/items HTTP/1.1\r\nhost: 127.0.0.1\r\nx-fine: "
                           + b"a" * (MAX_HEAD_BYTES // 2) + b"\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
        before = rss_bytes(server.pid)
        answer = send_and_read(server.port, b"GET /v1/items HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: "
                               + b"a" * (8 * 1024 * 1024) + b"\r\n\r\n")
        grown = rss_bytes(server.pid) - before
        # 431, or a reset if the server hung up while our bytes were still unread: never a 200.
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:100]
        assert logged(server) == 1  # only the fine request reached the app
        assert grown < 4 * 1024 * 1024, grown


def test_slowloris_head_and_idle_connection_are_closed() -> None:
    with ServerProcess(extra_args=("--read-timeout", "0.5")) as server:
        # A head that never ends: one more header line every 0.1 s.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.settimeout(0.1)
            t0 = time.monotonic()
            s.sendall(b"GET /v1/items HTTP/1.1\r\nhost: 127.0.0.1\r\n")
            answer, closed = b"", False
            while not closed and time.monotonic() - t0 < 10:
                try:
                    s.sendall(b"x-drip: 1\r\n")
                    data = s.recv(65536)
                    answer += data
                    closed = not data
                except TimeoutError:
                    continue
                except ConnectionError:
                    closed = True
            held = time.monotonic() - t0
        assert closed and 0.4 <= held < 8, held
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
        # A connection that never sends a byte.
        with socket.create_connection(("127.0.0.1", server.port), timeout=8) as s:
            assert s.recv(65536).startswith(b"HTTP/1.1 408")
        assert logged(server) == 0


def test_keep_alive_pauses_longer_than_the_read_timeout_are_fine() -> None:
    # The timer covers receiving a request, not the idle time between requests (uvicorn's keep-alive does).
    request = b"GET /v1/items HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"
    with ServerProcess(extra_args=("--read-timeout", "0.3")) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        answers = []
        for _ in range(2):
            s.sendall(request)
            answer = b""
            while not answer.endswith(b'{"ok":true}'):  # the head and the body may come in two reads
                data = s.recv(65536)
                assert data, answer
                answer += data
            answers.append(answer)
            time.sleep(0.8)  # a sync test: no event loop to block
        assert [a[:12] for a in answers] == [b"HTTP/1.1 200"] * 2  # one connection, both answered
        assert logged(server) == 2


def test_a_request_answered_before_its_body_arrived_gets_no_second_response() -> None:
    # POST /v1/items announcing 100 bytes and sending 2: the app answers 200 without reading the body, and
    # the read timer later wrote "HTTP/1.1 408" on the same connection, a response nobody asked for.
    with ServerProcess(extra_args=("--read-timeout", "0.3")) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/items HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                  b"content-length: 100\r\n\r\n{}")
        answer = b""
        with contextlib.suppress(ConnectionError):
            while data := s.recv(65536):  # until the server hangs up (the read timeout, 0.3 s)
                answer += data
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    assert answer.count(b"HTTP/1.1 ") == 1, answer
