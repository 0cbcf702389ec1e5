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
``openai``           ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``; resets are Go durations
                     (``6m0s``, ``1m30.5s``, ``20ms``, ``0s``)
``anthropic``        ``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}``; resets are
                     RFC 3339 instants (``2023-11-14T22:13:21Z``)
``ietf-draft10``     ``RateLimit-Policy: "name";q=100;w=60, ...`` + ``RateLimit: "name";r=5;t=30, ...``
``ietf-draft07``     ``RateLimit: limit=10, remaining=5, reset=3`` (+ ``RateLimit-Policy: 10;w=1``)
``ratelimit-trio``   ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (draft-06 and older)
``x-ratelimit``      ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (+ GitHub's ``-Used``, Discord's
                     ``-Reset-After``)
===================  ==============================================================================

plus ``Retry-After`` (delay-seconds or an HTTP-date) and ``retry-after-ms`` with any of them.

The two LLM dialects report two quotas at once: the requests tier in ``limit`` / ``remaining`` /
``reset_after_s``, the tokens tier in ``tokens_limit`` / ``tokens_remaining`` / ``tokens_reset_after_s``.

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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["DEFAULT_MAX_WAIT_S", "EPOCH_MS_THRESHOLD", "EPOCH_THRESHOLD", "MAX_DELAY_S", "RateLimitInfo", "capped",
           "go_duration", "parse", "rfc3339_delay"]

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
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset_after_s: float | None = None

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


_GO_PART = r"([0-9]{1,12}(?:\.[0-9]{1,9})?)(ms|us|µs|μs|ns|h|m|s)"
_GO = re.compile(f"(?:{_GO_PART})+")
_GO_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}
_RFC3339 = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,9})?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def go_duration(value: str | None) -> float | None:
    """Seconds in a Go ``time.Duration`` string (OpenAI's resets); ``None`` if malformed or implausible.

    >>> [go_duration(v) for v in ("1s", "6m0s", "20ms", "1m30.5s", "0s", "1h2m", "1.5", "-1s", "")]
    [1.0, 360.0, 0.02, 90.5, 0.0, 3720.0, None, None, None]
    """
    if value is None:
        return None
    v = value.strip()
    if not _GO.fullmatch(v):
        return None
    return _plausible(sum(float(n) * _GO_UNIT_S[u] for n, u in re.findall(_GO_PART, v)))


def rfc3339_delay(value: str | None, now_epoch: float) -> float | None:
    """Seconds from ``now_epoch`` to an RFC 3339 instant (Anthropic's resets); past → 0; malformed → None.

    >>> rfc3339_delay("2023-11-14T22:13:25.5Z", 1_700_000_000.0), rfc3339_delay("tomorrow", 0.0)
    (5.5, None)
    """
    if value is None:
        return None
    m = _RFC3339.fullmatch(value.strip())
    if m is None:
        return None
    day, frac, zone = m.groups()
    text = day.replace("t", "T").replace(" ", "T") + (frac or "")[:7] + ("+00:00" if zone in "Zz" else zone)
    try:
        epoch = datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return _plausible(max(0.0, epoch - now_epoch))


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


def _two_tiers(limit: int | None, remaining: int | None, reset: float | None, t_limit: int | None,
               t_remaining: int | None, t_reset: float | None, dialect: str) -> RateLimitInfo | None:
    if all(v is None for v in (limit, remaining, reset, t_limit, t_remaining, t_reset)):
        return None
    return RateLimitInfo(limit, remaining, reset, None, None, dialect, t_limit, t_remaining, t_reset)


def _openai(h: Mapping[str, str], now_epoch: float) -> RateLimitInfo | None:
    def get(field: str, unit: str) -> str | None:
        return h.get(f"x-ratelimit-{field}-{unit}")

    return _two_tiers(_int(get("limit", "requests")), _int(get("remaining", "requests")),
                      go_duration(get("reset", "requests")), _int(get("limit", "tokens")),
                      _int(get("remaining", "tokens")), go_duration(get("reset", "tokens")), "openai")


def _anthropic(h: Mapping[str, str], now_epoch: float) -> RateLimitInfo | None:
    def get(unit: str, field: str) -> str | None:
        return h.get(f"anthropic-ratelimit-{unit}-{field}")

    return _two_tiers(_int(get("requests", "limit")), _int(get("requests", "remaining")),
                      rfc3339_delay(get("requests", "reset"), now_epoch), _int(get("tokens", "limit")),
                      _int(get("tokens", "remaining")), rfc3339_delay(get("tokens", "reset"), now_epoch),
                      "anthropic")


_DIALECTS = (_openai, _anthropic, _draft10, _draft07, _trio, _x_ratelimit)


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

        >>> i = parse({"RateLimit-Policy": '"hour";q=100;w=3600, "min";q=10;w=60',
        ...            "RateLimit": '"hour";r=90;t=600, "min";r=2;t=20'})
        >>> i.limit, i.remaining, i.reset_after_s, i.retry_after_s, i.policy_window_s, i.dialect
        (10, 2, 20.0, None, 60.0, 'ietf-draft10')
        >>> parse({"ratelimit": "limit=10, remaining=0, reset=3", "retry-after": "2"}).wait_s
        2.0
        >>> parse({"x-ratelimit-reset": "-5", "retry-after": "soon"}) == RateLimitInfo()
        True
        >>> i = parse({"x-ratelimit-remaining-requests": "59", "x-ratelimit-remaining-tokens": "1200",
        ...            "x-ratelimit-reset-tokens": "1m30.5s", "retry-after-ms": "250"})
        >>> i.remaining, i.tokens_remaining, i.tokens_reset_after_s, i.retry_after_s, i.dialect
        (59, 1200, 90.5, 0.25, 'openai')
    """
    h = _lower(headers)
    now = time.time() if now_epoch is None or not math.isfinite(now_epoch) else now_epoch
    retry_after = _retry_after(h, now)
    for dialect in _DIALECTS:
        info = dialect(h, now)
        if info is not None:
            return replace(info, retry_after_s=retry_after)
    return RateLimitInfo(retry_after_s=retry_after)


def capped(info: RateLimitInfo, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> tuple[RateLimitInfo, int]:
    """``info`` with every wait it carries (``retry_after_s``, ``reset_after_s``, ``tokens_reset_after_s``)
    cut to ``max_wait_s``; and how many were cut.

        >>> info, cut = capped(RateLimitInfo(remaining=0, reset_after_s=34_560_000.0, retry_after_s=5.0), 300.0)
        >>> info.reset_after_s, info.retry_after_s, cut
        (300.0, 5.0, 1)
    """
    def cap(v: float | None) -> float | None:
        return max_wait_s if v is not None and v > max_wait_s else v

    waits = (info.retry_after_s, info.reset_after_s, info.tokens_reset_after_s)
    cut = sum(1 for v in waits if cap(v) != v)
    if not cut:
        return info, 0
    return replace(info, retry_after_s=cap(info.retry_after_s), reset_after_s=cap(info.reset_after_s),
                   tokens_reset_after_s=cap(info.tokens_reset_after_s)), cut
