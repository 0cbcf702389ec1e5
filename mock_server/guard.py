"""The mock server's connections, guarded: bounded request heads, and requests that must arrive in time.

The server runs uvicorn's httptools protocol (the fastest it has). uvicorn bounds request heads only
for its h11 protocol (``h11_max_incomplete_event_size``) and has no timeout for receiving a request at
all (``timeout_keep_alive`` only covers the idle time between requests, and any byte resets it). So a
client could grow the server by the size of one endless header (200 MB of headers: +230 MB), or hold
connections open forever by sending a header byte now and then (slowloris). This protocol adds both
limits, at the byte level, before anything is parsed into Python objects:

* a request head (request line and headers) longer than ``max_head_bytes`` is answered
  ``431 Request Header Fields Too Large`` and the connection closed;
* a request (head and body) not received in full within ``read_timeout_s`` of its first read (or of
  the connection's opening) is answered ``408 Request Timeout`` and the connection closed. A request
  that arrives whole in one read, the usual case, never starts a timer.

Responses being served are untouched: a request held by a ``hang`` fault is complete, so no timer runs.

>>> cls = guarded_protocol(max_head_bytes=8192, read_timeout_s=5.0)
>>> cls.max_head_bytes, cls.read_timeout_s, issubclass(cls, HttpToolsProtocol)
(8192, 5.0, True)
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Default bound on a request head: far above any real client's headers (browsers stay under 8 kB).
MAX_HEAD_BYTES = 32 * 1024
#: Default time a client has to send a whole request.
READ_TIMEOUT_S = 10.0

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head-size limit and a request-read timeout."""

    max_head_bytes: int = MAX_HEAD_BYTES
    read_timeout_s: float = READ_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes received since the current request's head began
        self._awaiting_head = True
        self._heads = 0  # heads completed on this connection
        self._in_request = False  # a request has begun and not been received in full
        self._reading: asyncio.TimerHandle | None = None
        self._cycle_before: object = None  # self.cycle when the current request began

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is a slowloris too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._awaiting_head:
            room = self.max_head_bytes - self._head_bytes
            if len(data) > room:
                # Feed only what the head may still take: if the head is not complete by then, it is too long.
                heads = self._heads
                self._head_bytes = self.max_head_bytes
                super().data_received(data[:room])
                if self._heads == heads:
                    self._refuse(431)
                elif not self.transport.is_closing():
                    self.data_received(data[room:])
                return
            self._head_bytes += len(data)
        super().data_received(data)
        # The usual request arrives whole in one read and needs no timer; only one left incomplete gets one.
        if self._in_request and self._reading is None and not self.transport.is_closing():
            self._arm()

    def on_message_begin(self) -> None:
        self._in_request = True
        self._cycle_before = self.cycle  # the request gets its own cycle once its head is complete
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._heads += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_request = False
        self._disarm()
        self._awaiting_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def _arm(self) -> None:
        if self._reading is None:
            self._reading = self.loop.call_later(self.read_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None

    def _timed_out(self) -> None:
        self._reading = None
        self._refuse(408)

    def _may_answer(self) -> bool:
        """Whether a refusal may be written: only if the request being received has no response of its own
        (started or sent) and none for an earlier request is still being written."""
        cycle = self.cycle
        if cycle is None:
            return True
        if self._in_request and cycle is not self._cycle_before:
            # The current request's own cycle: the app may have answered it before its body arrived (a
            # POST whose Content-Length outruns its body); a second response would be one nobody asked for.
            return not cycle.response_started
        return bool(cycle.response_complete)  # an earlier request's: never interleave with its response

    def _refuse(self, status: int) -> None:
        """Answer ``status`` (unless a response is under way or sent for this request) and close."""
        self._disarm()
        if self.transport.is_closing():
            return
        if self._may_answer():
            reason = _REASONS[status]
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                                 b"connection: close\r\n\r\n%s" % (status, reason, len(reason), reason))
        self.transport.close()


def guarded_protocol(max_head_bytes: int = MAX_HEAD_BYTES,
                     read_timeout_s: float = READ_TIMEOUT_S) -> type[GuardedHttpToolsProtocol]:
    """A :class:`GuardedHttpToolsProtocol` with these limits, for ``uvicorn.Config(http=...)``."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                {"max_head_bytes": max_head_bytes, "read_timeout_s": read_timeout_s})
