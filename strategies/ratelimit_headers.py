"""Client-side parser for rate-limit response headers: every dialect the mock speaks, and then some.

:func:`parse` turns response headers into one :class:`RateLimitInfo`: the limit, what is left, how
long until it grows (``reset_after_s``) and how long the server asked us to wait (``retry_after_s``)::

    >>> info = parse({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0",
    ...               "X-RateLimit-Reset": "1700000030"}, now_epoch=1_700_000_000.0)
    >>> info.limit, info.remaining, info.reset_after_s, info.dialect
    (60, 0, 30.0, 'x-ratelimit')
    >>> parse({"Retry-After": "Tue, 14 Nov 2023 22:13:25 GMT"}, now_epoch=1_700_000_000.0).wait_s
    5.0

Dialects, in the order they are preferred when a response carries several (the first family that
yields any of limit / remaining / reset provides all three; fields are never mixed across families):

===================  ==============================================================================
``ietf-draft10``     ``RateLimit-Policy: "name";q=100;w=60, ...`` + ``RateLimit: "name";r=5;t=30, ...``
``ietf-draft07``     ``RateLimit: limit=10, remaining=5, reset=3`` (+ ``RateLimit-Policy: 10;w=1``)
``ratelimit-trio``   ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (draft-06 and older)
``x-ratelimit``      ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (+ GitHub's ``-Used``, Discord's
                     ``-Reset-After``)
===================  ==============================================================================

plus ``Retry-After`` (delay-seconds or an HTTP-date) and ``retry-after-ms`` with any of them.

Robustness rules (why: these headers come from servers we do not control):

- Header names are case-insensitive; a ``dict`` or ``httpx.Headers`` (duplicates joined with ``,``).
- Malformed, negative, NaN/inf or implausible values are ignored (the field is ``None``); nothing raises.
- A reset (or Retry-After number) above :data:`EPOCH_THRESHOLD` is a UTC epoch (seconds; above
  :data:`EPOCH_MS_THRESHOLD`, milliseconds) and becomes a delay relative to ``now_epoch``; a past
  instant becomes 0. Any delay longer than :data:`MAX_DELAY_S` is implausible and ignored, so an
  epoch can never turn into a wait of billions of seconds.
- ``retry-after-ms`` wins over ``Retry-After`` (same meaning, finer grain); ``Retry-After`` wins over
  the reset for the wait a client should observe (:attr:`RateLimitInfo.wait_s`).
- With several IETF policies (draft-10 lists), the binding one is reported: the lowest pace
  ``r / t``, and at zero remaining the longest ``t``.

``now_epoch`` defaults to ``time.time()``: converting an absolute instant needs the wall clock (under
``bench.clock`` that is the patched, virtual-following one).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["DEFAULT_MAX_WAIT_S", "EPOCH_MS_THRESHOLD", "EPOCH_THRESHOLD", "MAX_DELAY_S", "RateLimitInfo", "capped",
           "parse"]

#: Numbers above this (2001-09-09 as a UTC epoch; 31 years as a delay) are epoch seconds.
EPOCH_THRESHOLD = 1e9
#: Numbers above this (year 5138 as epoch seconds) are epoch milliseconds.
EPOCH_MS_THRESHOLD = 1e11
#: Delays beyond this (400 days: longer than any monthly quota) are nonsense and ignored.
MAX_DELAY_S = 400 * 86_400.0
#: The longest wait a client takes from one header by default (:func:`capped`): a plausible value can
#: still be hostile or a bug — one 200 saying "Retry-After: 30000000" must not stop a client for a year.
DEFAULT_MAX_WAIT_S = 300.0

# ASCII only: ``\d`` would accept other scripts' digits, which int()/float() happily convert.
_INT = re.compile(r"[0-9]{1,18}")
_NUM = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,9})?")
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9_\-.:%*/]*")


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What a response's headers say about the quota; ``None`` where they say nothing usable.

    ``reset_after_s``: seconds until ``remaining`` grows again (a delta, whatever the header's form);
    ``retry_after_s``: seconds the server asked us to wait; ``policy_window_s``: the window of the
    reported policy when a dialect declares it; ``dialect``: which header family gave limit/remaining/reset.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_after_s: float | None = None
    retry_after_s: float | None = None
    policy_window_s: float | None = None
    dialect: str | None = None

    @property
    def wait_s(self) -> float | None:
        """How long to hold off before the next request, or ``None`` when the headers do not say.

        ``Retry-After`` wins; otherwise the reset, but only when nothing remains.

        >>> RateLimitInfo(remaining=0, reset_after_s=3.0, retry_after_s=1.5).wait_s
        1.5
        >>> RateLimitInfo(remaining=0, reset_after_s=3.0).wait_s
        3.0
        >>> RateLimitInfo(remaining=2, reset_after_s=3.0).wait_s is None
        True
        """
        if self.retry_after_s is not None:
            return self.retry_after_s
        if self.remaining == 0:
            return self.reset_after_s
        return None


# -- scalar values -------------------------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip()
    return int(v) if _INT.fullmatch(v) else None


def _num(value: str | None) -> float | None:
    if value is None:
        return None
    v = value.strip()
    return float(v) if _NUM.fullmatch(v) else None


def _first_int(value: str | None) -> int | None:
    """The leading integer of ``"10"``, ``"10, 10;w=1"`` or ``"100;w=60"`` (draft-era limit headers)."""
    if value is None:
        return None
    return _int(_split(value, ",")[0].partition(";")[0])


def _plausible(delay: float) -> float | None:
    return delay if 0.0 <= delay <= MAX_DELAY_S else None


def _delay(value: float | None, now_epoch: float) -> float | None:
    """A delta in seconds, or an absolute UTC epoch (s or ms) turned into a delta; past → 0."""
    if value is None or not math.isfinite(value):
        return None
    if value > EPOCH_MS_THRESHOLD:
        return _plausible(max(0.0, value / 1000.0 - now_epoch))
    if value > EPOCH_THRESHOLD:
        return _plausible(max(0.0, value - now_epoch))
    return _plausible(value)


def _http_date(value: str, now_epoch: float) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: an HTTP-date is always GMT (RFC 9110 §5.6.7)
        when = when.replace(tzinfo=UTC)
    try:
        epoch = when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None
    return _plausible(max(0.0, epoch - now_epoch))


def _retry_after(h: Mapping[str, str], now_epoch: float) -> float | None:
    ms = _num(h.get("retry-after-ms"))
    if ms is not None:
        precise = _plausible(ms / 1000.0)
        if precise is not None:
            return precise
    raw = h.get("retry-after")
    if raw is None:
        return None
    number = _num(raw)
    if number is not None:
        # Delay-seconds per RFC 9110; an epoch-sized number is some server's epoch, never a 30-year wait.
        return _delay(number, now_epoch)
    return _http_date(raw, now_epoch)


# -- structured fields (RFC 8941), tolerant subset -----------------------------------------------------


def _split(value: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double-quoted strings (backslash escapes honoured)."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            cur.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == '"':
            cur.append(ch)
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _bare(item: str) -> str | None:
    """An sf-string's content, or a token, or an integer/decimal's text; ``None`` if malformed."""
    s = item.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        body = s[1:-1]
        return re.sub(r"\\(.)", r"\1", body)
    if _TOKEN.fullmatch(s) or _NUM.fullmatch(s):
        return s
    return None


@dataclass(frozen=True, slots=True)
class _Member:
    item: str  # the bare item: a name, a number's text, or ``key=value`` text for a dictionary member
    params: dict[str, str]


def _members(value: str | None) -> list[_Member]:
    if not value:
        return []
    out = []
    for raw in _split(value, ","):
        if not raw:
            continue
        head, *rest = _split(raw, ";")
        params: dict[str, str] = {}
        for p in rest:
            k, eq, v = p.partition("=")
            k = k.strip().lower()
            if k:
                params.setdefault(k, (_bare(v) or "") if eq else "?1")
        out.append(_Member(head, params))
    return out


# -- dialects ------------------------------------------------------------------------------------------


def _draft10(h: Mapping[str, str], now_epoch: float) -> RateLimitInfo | None:
    """``RateLimit: "name";r=R;t=T`` lists, joined by name to ``RateLimit-Policy: "name";q=Q;w=W``."""
    policies: dict[str, tuple[int | None, float | None]] = {}
    for m in _members(h.get("ratelimit-policy")):
        name = _bare(m.item)
        if name is not None and "q" in m.params:
            policies.setdefault(name, (_int(m.params["q"]), _num(m.params.get("w"))))
    limits = []
    for m in _members(h.get("ratelimit")):
        name = _bare(m.item)
        if name is None or "=" in m.item or not ({"r", "t"} & m.params.keys()):
            continue
        remaining = _int(m.params.get("r"))
        reset = _delay(_num(m.params.get("t")), now_epoch)
        if remaining is not None or reset is not None:
            limits.append((name, remaining, reset))
    if not limits and not policies:
        return None

    if limits:
        def pace(entry: tuple[str, int | None, float | None]) -> tuple[float, float]:
            _, r, t = entry
            if r is None:
                return (math.inf, 0.0)
            if r == 0:
                return (0.0, -(t or 0.0))  # nothing left: the longest wait binds
            return (r / t if t else math.inf, 0.0)

        name, remaining, reset = min(limits, key=pace)
        quota, window = policies.get(name, (None, None))
        if name not in policies and len(policies) == 1:
            quota, window = next(iter(policies.values()))
        return RateLimitInfo(quota, remaining, reset, None, window, "ietf-draft10")

    # Policies only: report the one with the lowest sustained rate.
    def rate(qw: tuple[int | None, float | None]) -> float:
        q, w = qw
        return q / w if q is not None and w else math.inf

    quota, window = min(policies.values(), key=rate)
    return RateLimitInfo(quota, None, None, None, window, "ietf-draft10")


def _window_for(limit: int | None, *values: str | None) -> float | None:
    """The ``w`` of the integer-headed policy member equal to ``limit`` (or of the only member)."""
    members = [(m, m.params.get("w", m.params.get("window"))) for v in values for m in _members(v)]
    windows = [(_int(m.item), w) for m, w in members if w is not None and _INT.fullmatch(m.item.strip())]
    for n, w in windows:
        if n == limit:
            return _num(w)
    return _num(windows[0][1]) if len(windows) == 1 else None


def _draft07(h: Mapping[str, str], now_epoch: float) -> RateLimitInfo | None:
    fields: dict[str, str] = {}
    for m in _members(h.get("ratelimit")):
        key, eq, value = m.item.partition("=")
        if eq:
            fields.setdefault(key.strip().lower(), value)
    if not ({"limit", "remaining", "reset"} & fields.keys()):
        return None
    limit = _int(fields.get("limit"))
    remaining = _int(fields.get("remaining"))
    reset = _delay(_num(fields.get("reset")), now_epoch)
    if limit is None and remaining is None and reset is None:
        return None
    return RateLimitInfo(limit, remaining, reset, None, _window_for(limit, h.get("ratelimit-policy")),
                         "ietf-draft07")


def _trio(h: Mapping[str, str], now_epoch: float) -> RateLimitInfo | None:
    limit = _first_int(h.get("ratelimit-limit"))
    remaining = _first_int(h.get("ratelimit-remaining"))
    reset = _delay(_num(h.get("ratelimit-reset")), now_epoch)
    if limit is None and remaining is None and reset is None:
        return None
    window = _window_for(limit, h.get("ratelimit-policy"), h.get("ratelimit-limit"))
    return RateLimitInfo(limit, remaining, reset, None, window, "ratelimit-trio")


def _x_ratelimit(h: Mapping[str, str], now_epoch: float) -> RateLimitInfo | None:
    limit = _first_int(h.get("x-ratelimit-limit"))
    remaining = _first_int(h.get("x-ratelimit-remaining"))
    used = _int(h.get("x-ratelimit-used"))
    if remaining is None and limit is not None and used is not None and used <= limit:
        remaining = limit - used  # GitHub sends both; some proxies strip one
    reset = _delay(_num(h.get("x-ratelimit-reset")), now_epoch)
    after = _num(h.get("x-ratelimit-reset-after"))  # Discord: a fractional delta
    if reset is None and after is not None:
        reset = _plausible(after)
    if limit is None and remaining is None and reset is None:
        return None
    return RateLimitInfo(limit, remaining, reset, None, _window_for(limit, h.get("x-ratelimit-limit")),
                         "x-ratelimit")


_DIALECTS = (_draft10, _draft07, _trio, _x_ratelimit)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers.items():
        if isinstance(k, str) and isinstance(v, str):
            out.setdefault(k.lower(), v)  # a dict holding two spellings of a name: the first wins
    return out


def parse(headers: Mapping[str, str], now_epoch: float | None = None) -> RateLimitInfo:
    """Read rate-limit headers of any supported dialect; never raises on malformed values.

    ``now_epoch`` (UTC seconds, default ``time.time()``) is the instant the response is read, used to
    turn epoch resets and HTTP-dates into delays.

        >>> parse({"RateLimit-Policy": '"hour";q=100;w=3600, "min";q=10;w=60',
        ...        "RateLimit": '"hour";r=90;t=600, "min";r=2;t=20'})
        RateLimitInfo(limit=10, remaining=2, reset_after_s=20.0, retry_after_s=None, policy_window_s=60.0, \
dialect='ietf-draft10')
        >>> parse({"ratelimit": "limit=10, remaining=0, reset=3", "retry-after": "2"}).wait_s
        2.0
        >>> parse({"x-ratelimit-reset": "-5", "retry-after": "soon"})
        RateLimitInfo(limit=None, remaining=None, reset_after_s=None, retry_after_s=None, \
policy_window_s=None, dialect=None)
    """
    h = _lower(headers)
    now = time.time() if now_epoch is None or not math.isfinite(now_epoch) else now_epoch
    retry_after = _retry_after(h, now)
    for dialect in _DIALECTS:
        info = dialect(h, now)
        if info is not None:
            return RateLimitInfo(info.limit, info.remaining, info.reset_after_s, retry_after,
                                 info.policy_window_s, info.dialect)
    return RateLimitInfo(retry_after_s=retry_after)


def capped(info: RateLimitInfo, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> tuple[RateLimitInfo, int]:
    """``info`` with ``retry_after_s`` and ``reset_after_s`` cut to ``max_wait_s``; and how many were cut.

        >>> capped(RateLimitInfo(remaining=0, reset_after_s=34_560_000.0, retry_after_s=5.0), 300.0)
        (RateLimitInfo(limit=None, remaining=0, reset_after_s=300.0, retry_after_s=5.0, policy_window_s=None, \
dialect=None), 1)
    """
    cut = 0
    retry, reset = info.retry_after_s, info.reset_after_s
    if retry is not None and retry > max_wait_s:
        retry, cut = max_wait_s, cut + 1
    if reset is not None and reset > max_wait_s:
        reset, cut = max_wait_s, cut + 1
    if not cut:
        return info, 0
    return RateLimitInfo(info.limit, info.remaining, reset, retry, info.policy_window_s, info.dialect), cut
