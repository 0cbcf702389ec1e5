"""Rate-limit header dialects, ``Retry-After`` forms and error bodies, as raw ASGI header pairs.

One :class:`Announcer` per server state picks its functions once, so a request pays for formatting a
few integers, not for choosing how. ``epoch`` is the server's wall clock (UTC seconds) at the request,
used for epoch resets and HTTP-date ``Retry-After``; delta resets and delays are rounded *up* to whole
seconds, as real APIs send them, so a client that waits what it is told is never early.

===================  =================================================================================
dialect              headers (on 200s and quota rejections alike)
===================  =================================================================================
``x-ratelimit``      ``x-ratelimit-limit``, ``-remaining``, ``-reset`` (delta s, or epoch s)
``github``           the same with an epoch reset, plus ``x-ratelimit-used`` and ``x-ratelimit-resource``
``ietf-draft10``     ``RateLimit-Policy: "name";q=L;w=W, ...`` and ``RateLimit: "name";r=R;t=T``
``ratelimit-trio``   ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (delta or epoch)
``ietf-draft07``     ``RateLimit: limit=L, remaining=R, reset=T`` and ``RateLimit-Policy: L;w=W, ...``
``openai``           ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``, resets as Go durations
                     (``6m0s``, ``1.5s``, ``20ms``; rounded up to the ms)
``anthropic``        ``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}``, resets as
                     RFC 3339 UTC instants (``2023-11-14T22:13:21.500Z``; rounded up to the ms)
``none``             nothing
===================  =================================================================================

>>> from mock_server.config import HeadersConfig
>>> from mock_server.policies import Decision
>>> a = Announcer(HeadersConfig(dialect="github"))
>>> a.quota(Decision(False, 60, 0, 2_500_000_000, 2_500_000_000, 3600 * 10**9, "core"), 1_700_000_000.0)
[(b'x-ratelimit-limit', b'60'), (b'x-ratelimit-remaining', b'0'), (b'x-ratelimit-reset', b'1700000003'), \
(b'x-ratelimit-used', b'60'), (b'x-ratelimit-resource', b'core')]
>>> a.retry(2_500_000_000, 1_700_000_000.0)
[(b'retry-after', b'3')]
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from email.utils import formatdate

from mock_server.config import HeadersConfig
from mock_server.policies import Decision, Policy
from mock_server.ticks import ceil_div, ceil_seconds, to_seconds

Headers = list[tuple[bytes, bytes]]

REASONS = {403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def _b(n: int) -> bytes:
    return b"%d" % n


def _sf_number(x: float) -> str:
    """A structured-field integer when whole, else a decimal with at most 3 fraction digits."""
    if x == int(x):
        return str(int(x))
    return f"{x:.3f}".rstrip("0")


def _sf_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_duration(ns: int) -> str:
    """A duration as Go's ``time.Duration`` prints it (OpenAI's reset headers), rounded up to the ms.

    >>> [go_duration(n) for n in (0, 20_000_000, 1_000_000_000, 90_500_000_000, 360 * 10**9, 3_700 * 10**9)]
    ['0s', '20ms', '1s', '1m30.5s', '6m0s', '1h1m40s']
    """
    ms = max(0, ceil_div(ns, 1_000_000))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    sec, frac = divmod(rest, 1000)
    s = f"{sec}.{frac:03d}".rstrip("0").rstrip(".") + "s"
    return (f"{h}h{m}m" if h else f"{m}m" if m else "") + s


def rfc3339(epoch: float) -> str:
    """A UTC instant in RFC 3339 with milliseconds, rounded up to the ms (Anthropic's reset headers).

    >>> rfc3339(1_700_000_000.2), rfc3339(1_700_000_000.0)
    ('2023-11-14T22:13:20.200Z', '2023-11-14T22:13:20.000Z')
    """
    ms = math.ceil(round(epoch * 1000, 3))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _by_unit(d: Decision, unit: str) -> Policy | None:
    """The tier of ``unit`` closest to binding (least share left), or ``None``."""
    tiers = [p for p in d.tiers if p.unit == unit]
    return min(tiers, key=lambda p: p.remaining(d.now) / p.capacity) if tiers else None


def http_date(epoch: float) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7) of a UTC epoch instant, rounded up to the whole second.

    >>> http_date(1_700_000_000.2)
    'Tue, 14 Nov 2023 22:13:21 GMT'
    """
    return formatdate(math.ceil(epoch - 1e-9), usegmt=True)


class Announcer:
    """Turns decisions into headers and bodies for one :class:`HeadersConfig`."""

    def __init__(self, config: HeadersConfig) -> None:
        self.config = config
        self.reject_status = config.reject_status
        # github's reset is always epoch, the IETF drafts' always delta, whatever the dataclass was given.
        epoch_reset = config.dialect == "github" or config.reset == "epoch"

        def reset_value(d: Decision, epoch: float) -> bytes:
            if epoch_reset:
                return _b(math.ceil(epoch + d.reset_s - 1e-9))
            return _b(ceil_seconds(d.reset_ns))

        def x_ratelimit(d: Decision, epoch: float) -> Headers:
            return [(b"x-ratelimit-limit", _b(d.limit)), (b"x-ratelimit-remaining", _b(d.remaining)),
                    (b"x-ratelimit-reset", reset_value(d, epoch))]

        def github(d: Decision, epoch: float) -> Headers:
            return [*x_ratelimit(d, epoch), (b"x-ratelimit-used", _b(d.limit - d.remaining)),
                    (b"x-ratelimit-resource", d.name.encode() or b"core")]

        def trio(d: Decision, epoch: float) -> Headers:
            return [(b"ratelimit-limit", _b(d.limit)), (b"ratelimit-remaining", _b(d.remaining)),
                    (b"ratelimit-reset", reset_value(d, epoch))]

        def draft10(d: Decision, epoch: float) -> Headers:
            policy = ", ".join(f"{_sf_string(p.name)};q={p.limit};w={_sf_number(p.window_s)}"
                               for p in d.tiers)
            limit = f"{_sf_string(d.name)};r={d.remaining};t={ceil_seconds(d.reset_ns)}"
            return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", limit.encode())]

        def draft07(d: Decision, epoch: float) -> Headers:
            policy = ", ".join(f"{p.limit};w={_sf_number(p.window_s)}" for p in d.tiers)
            limit = f"limit={d.limit}, remaining={d.remaining}, reset={ceil_seconds(d.reset_ns)}"
            return [(b"ratelimit", limit.encode()), (b"ratelimit-policy", policy.encode())]

        def openai(d: Decision, epoch: float) -> Headers:
            out: Headers = []
            for unit in ("requests", "tokens"):
                p = _by_unit(d, unit)
                if p is not None:
                    u = unit.encode()
                    out += [(b"x-ratelimit-limit-" + u, _b(p.capacity)),
                            (b"x-ratelimit-remaining-" + u, _b(p.remaining(d.now))),
                            (b"x-ratelimit-reset-" + u, go_duration(p.reset_after(d.now)).encode())]
            return out

        def anthropic(d: Decision, epoch: float) -> Headers:
            out: Headers = []
            for unit in ("requests", "tokens"):
                p = _by_unit(d, unit)
                if p is not None:
                    pre = b"anthropic-ratelimit-" + unit.encode()
                    at = rfc3339(epoch + to_seconds(p.reset_after(d.now)))
                    out += [(pre + b"-limit", _b(p.capacity)), (pre + b"-remaining", _b(p.remaining(d.now))),
                            (pre + b"-reset", at.encode())]
            return out

        def none(d: Decision, epoch: float) -> Headers:
            return []

        dialects: dict[str, Callable[[Decision, float], Headers]] = {
            "x-ratelimit": x_ratelimit, "github": github, "ietf-draft10": draft10,
            "ratelimit-trio": trio, "ietf-draft07": draft07, "openai": openai, "anthropic": anthropic,
            "none": none,
        }
        self.quota: Callable[[Decision, float], Headers] = dialects[config.dialect]
        """Rate-limit headers for a decision (``quota(decision, epoch)``)."""

        ra = config.retry_after

        def retry(delay_ns: int, epoch: float) -> Headers:
            """``Retry-After`` (and ``retry-after-ms``) for a rejection ``delay_ns`` before acceptance."""
            if ra == "seconds":
                return [(b"retry-after", _b(max(1, ceil_seconds(delay_ns))))]
            if ra == "http-date":
                return [(b"retry-after", http_date(epoch + to_seconds(delay_ns)).encode())]
            if ra == "ms":
                return [(b"retry-after", _b(max(1, ceil_seconds(delay_ns)))),
                        (b"retry-after-ms", _b(max(1, ceil_div(delay_ns, 1_000_000))))]
            return []

        self.retry = retry
        self._bodies: dict[int, tuple[bytes, bytes]] = {}

    def body(self, status: int) -> tuple[bytes, bytes]:
        """``(content-type, body)`` for an error status; RFC 9457 problem details when configured."""
        cached = self._bodies.get(status)
        if cached is None:
            title = REASONS.get(status, "Error")
            if self.config.problem_json:
                detail = ("Request quota exhausted; see the rate-limit headers." if status in (403, 429)
                          else "The mock server injected this failure.")
                doc = {"type": "about:blank", "title": title, "status": status, "detail": detail}
                cached = (b"application/problem+json", json.dumps(doc).encode())
            else:
                cached = (b"application/json", json.dumps({"error": title.lower()}).encode())
            self._bodies[status] = cached
        return cached
