"""Immutable records of one run: what the client did, what the server saw.

Times are seconds relative to the run's start (the instant jobs were first released), on the one
monotonic clock shared by client and server (``time.monotonic()`` is system-wide on Linux; under the
virtual loop both sides read the loop's clock). The server's arrival time is also kept exactly, as
integer nanoseconds (``arrival_ns``, :mod:`mock_server.ticks`): the window metrics count those.

>>> a = Attempt(job=0, attempt=1, intended_s=0.0, sent_s=0.001, arrival_s=0.002, done_s=0.012, status=200)
>>> a.ok
True
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_server.log import Arrival

__all__ = ["CANCELLED", "TRANSPORT_ERROR", "Arrival", "Attempt"]

#: ``status`` of an attempt that never got an HTTP response (connect error, timeout, reset).
TRANSPORT_ERROR = 0
#: ``status`` of an attempt still in flight when the run's timeout cut the strategy off: not an error
#: of the server or the network, so it counts neither as throttled nor as an error.
CANCELLED = -1


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP call made for a job (a retry is a second attempt of the same job)."""

    job: int
    attempt: int  # 1-based
    intended_s: float  # when the job was released to the strategy
    sent_s: float  # just before the HTTP call
    arrival_s: float | None  # server's log time; None when the request never reached the server
    done_s: float  # response fully received, or the transport error raised
    status: int  # HTTP status, TRANSPORT_ERROR or CANCELLED
    arrival_ns: int | None = None  # arrival_s exactly: server time in ns since run start

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300
