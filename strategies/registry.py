"""Strategy lookup by name, or by import path for a user's own strategy.

>>> resolve("aiolimiter").name
'aiolimiter'
>>> resolve("nope")
Traceback (most recent call last):
...
strategies.registry.UnknownStrategy: unknown strategy 'nope' (known: ...)
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from strategies.base import Strategy

# name -> "module:Class", imported lazily: names() imports nothing, and resolving one name imports only
# that module (and its limiter library). `ratebench list` resolves every name to show its description,
# so it does import them all.
BUILTIN: dict[str, str] = {
    "unlimited": "strategies.unlimited:Unlimited",
    "semaphore": "strategies.semaphore:SemaphoreOnly",
    "token-bucket-naive": "strategies.token_bucket_naive:NaiveTokenBucket",
    "token-bucket": "strategies.token_bucket:CorrectedTokenBucket",
    "aiolimiter": "strategies.aiolimiter_bursty:Aiolimiter",
    "semaphore+token-bucket": "strategies.combined:SemaphoreThenBucket",
    "token-bucket+semaphore": "strategies.combined:BucketThenSemaphore",
    "aiolimiter-smooth": "strategies.aiolimiter_smooth:AiolimiterSmooth",
    "aiometer": "strategies.aiometer_pacing:Aiometer",
    "asyncio-throttle": "strategies.throttler:Throttle",
    "asynciolimiter": "strategies.asynciolimiter_variants:Plain",
    "asynciolimiter-strict": "strategies.asynciolimiter_variants:Strict",
    "asynciolimiter-leaky": "strategies.asynciolimiter_variants:Leaky",
    "pyrate-memory": "strategies.pyrate:PyrateMemory",
    "pyrate-memory-buffered": "strategies.pyrate:PyrateMemoryBuffered",
    "pyrate-sqlite": "strategies.pyrate:PyrateSqlite",
    "worker-pool": "strategies.worker_pool:WorkerPool",
    "httpx-limits": "strategies.httpx_limits:HttpxLimits",
    "retry-backoff": "strategies.retry_backoff:RetryBackoff",
    "tenacity": "strategies.tenacity_retry:TenacityRetry",
    "adaptive-headers": "strategies.adaptive_headers:AdaptiveHeaders",
    "circuit-breaker-aiobreaker": "strategies.breaker_aiobreaker:AiobreakerBreaker",
    "circuit-breaker-purgatory": "strategies.breaker_purgatory:PurgatoryBreaker",
    "layered": "strategies.layered:Layered",
    # Token-weighted quotas (issue 13): a job's cost counts in the token tiers.
    "token-bucket-weighted": "strategies.token_bucket_weighted:TokenBucketWeighted",
    "aiolimiter-weighted": "strategies.aiolimiter_weighted:AiolimiterWeighted",
    "pyrate-weighted": "strategies.pyrate_weighted:PyrateWeighted",
    "adaptive-tokens": "strategies.adaptive_tokens:AdaptiveTokens",
    # On the frontier (issue 11): a sliding log of its own sends, windows anchored at each send's end.
    "frontier": "strategies.frontier:Frontier",
    # State in Redis, one quota for many client processes (issue 12): need a redis-server (bench.redis_server).
    "pyrate-redis": "strategies.pyrate_redis:PyrateRedis",
    "pyrate-redis-gcra": "strategies.pyrate_redis:PyrateRedisGcra",
}

ENTRY_POINT_GROUP = "ratebench.strategies"


class UnknownStrategy(LookupError):
    pass


def _load(path: str, name: str | None = None) -> type[Strategy]:
    """The class at ``module:attr``; any error importing it (not found, a syntax error, an exception the
    module raises, a malformed path such as ``:`` or ``.x:Y``) is an :class:`UnknownStrategy` naming both."""
    module, _, attr = path.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (Exception, SystemExit) as e:  # a user's module may raise anything while it is imported
        given = path if name is None or name == path else f"{name} ({path})"
        raise UnknownStrategy(f"cannot load strategy {given!r}: {type(e).__name__}: {e}") from None
    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise UnknownStrategy(f"{path!r} is not a Strategy subclass")
    return obj


def names() -> list[str]:
    """Built-in strategies in their listed order, then installed plug-ins."""
    return [*BUILTIN, *sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN)]


def resolve(name: str) -> type[Strategy]:
    """A built-in name, an installed entry point, or ``package.module:Class``."""
    if name in BUILTIN:
        return _load(BUILTIN[name])
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return _load(ep.value, name)
    if ":" in name:
        return _load(name)
    raise UnknownStrategy(f"unknown strategy {name!r} (known: {', '.join(names())})")


def check_name(cls: type[Strategy], given: str) -> str:
    """``cls.name``, which must be a non-empty string: it keys every row of the results."""
    name = cls.__dict__.get("name", getattr(cls, "name", None))
    if not isinstance(name, str) or not name.strip():
        raise UnknownStrategy(f"strategy {given!r}: its class attribute 'name' must be a non-empty string, "
                              f"got {name!r}")
    return name


def parse_list(spec: str) -> list[str]:
    """``"all"`` or a comma-separated list; every name is checked before anything runs.

    Each strategy must appear once and have a name of its own: the results key rows by name, so a
    second entry, or a plug-in named like a built-in, would be merged into one row as if it were a
    repeat (use ``--repeat`` for repeats).

        >>> parse_list("unlimited, unlimited")
        Traceback (most recent call last):
        ...
        strategies.registry.UnknownStrategy: strategy 'unlimited' is listed twice (use --repeat N for repeats)
    """
    wanted = names() if spec.strip() == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    if not wanted:
        raise UnknownStrategy("no strategies given")
    seen: dict[str, str] = {}
    for n in wanted:
        if n in seen.values():
            raise UnknownStrategy(f"strategy {n!r} is listed twice (use --repeat N for repeats)")
        name = check_name(resolve(n), n)
        if name in seen:
            raise UnknownStrategy(f"strategies {seen[name]!r} and {n!r} are both named {name!r}: their runs "
                                  "would be merged into one row; give your class a name of its own")
        if name in BUILTIN and n != name and BUILTIN[name] != n:
            raise UnknownStrategy(f"strategy {n!r} is named {name!r}, like the built-in {BUILTIN[name]!r}: "
                                  "give your class a name of its own")
        seen[name] = n
    return wanted
