"""The network and timer model for virtual mode: measured delays and late timers, seeded.

A virtual run with no model is a *schedule*: every request reaches the in-process server the instant
it is sent and every timer fires on time, so a limiter that releases exactly at a window's edge never
crosses it. Over a real socket it does (docs/fidelity.md). A :class:`Profile` holds what
``python -m bench calibrate`` measured on a real machine, as quantile tables:

- ``send``: ``arrival_s − sent_s`` per attempt (client → server), by how many attempts were on their
  way to the server when it was sent, itself included (the client serialises its sends, so a burst's
  last request arrives later; a lone request sent while others wait for their answers does not);
- ``response``: ``done_s − arrival_s`` with a zero-latency server (server → client, and the client's
  handling of the response), by how many answers were on their way back at once;
- ``timer.slack``: how much later than the selector's whole-millisecond sleep a timer's callback ran,
  by the length of that sleep (Linux lets a sleep of ``t`` overrun by ~0.1 % of ``t``, at least 50 µs).
  A real asyncio loop on Linux sleeps in ``epoll_wait`` in whole milliseconds rounded up
  (``selectors.EpollSelector``), then the kernel and the loop add a little: the virtual loop does the
  same (:class:`bench.clock.VirtualEventLoop` with a :class:`TimerModel`), so timers due together fire
  together and never out of order, as on a real loop.

Sampling is by inverse CDF: a uniform draw from a seeded :class:`random.Random`, linearly interpolated
between the table's percentiles, rounded to the virtual clock's integer microseconds::

    >>> table = Quantiles((100, 200, 400))          # min, median, max in µs
    >>> table.at(0.0), table.at(0.25), table.at(0.5), table.at(0.75)
    (100, 150, 200, 300)

Same seed, same draws, so the same run byte for byte; a run's seed comes from the scenario and the
repeat index (:func:`seed_for`), so repeats differ and each one reproduces.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT",
    "NONE",
    "VERSION",
    "NetModel",
    "Profile",
    "ProfileError",
    "Quantiles",
    "TimerModel",
    "load_profile",
    "profile_names",
    "seed_for",
]

FORMAT = "ratebench-netprofile"
VERSION = 1
#: The profile name meaning "no model": today's exact schedule.
NONE = "none"
DEFAULT = "default"
#: Percentiles stored per table: 0, 1, …, 100.
POINTS = 101


class ProfileError(ValueError):
    """A profile cannot be found or is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Quantiles:
    """An empirical distribution as ascending quantiles in integer microseconds, evenly spaced in
    probability from 0 (the minimum) to 1 (the maximum)."""

    us: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.us) < 2 or any(b < a for a, b in zip(self.us, self.us[1:], strict=False)) or self.us[0] < 0:
            raise ProfileError(f"a quantile table needs >= 2 ascending non-negative values, got {self.us[:5]}…")

    @classmethod
    def of(cls, samples_s: Sequence[float], points: int = POINTS) -> Quantiles:
        """The table of ``samples_s`` (seconds; negatives clipped to 0), ``points`` quantiles.

        >>> Quantiles.of([0.001, 0.002, 0.003], points=3).us
        (1000, 2000, 3000)
        """
        xs = sorted(max(0.0, s) for s in samples_s)
        if not xs:
            raise ProfileError("no samples to build a quantile table from")
        out = []
        for i in range(points):
            pos = i * (len(xs) - 1) / (points - 1)
            lo = math.floor(pos)
            hi = min(lo + 1, len(xs) - 1)
            out.append(round((xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)) * 1e6))
        return cls(tuple(out))

    def at(self, u: float) -> int:
        """The value at probability ``u`` in [0, 1], in µs (inverse CDF, linear between points)."""
        pos = u * (len(self.us) - 1)
        lo = min(math.floor(pos), len(self.us) - 2)
        return round(self.us[lo] + (self.us[lo + 1] - self.us[lo]) * (pos - lo))

    def median_us(self) -> int:
        return self.at(0.5)

    def mean_us(self) -> float:
        """The mean of the piecewise-linear distribution (trapezoids between quantile points)."""
        n = len(self.us) - 1
        return sum((a + b) / 2 for a, b in zip(self.us, self.us[1:], strict=False)) / n


@dataclass(frozen=True)
class Leveled:
    """One table per load level: ``levels[i]`` is the largest count of attempts in the same leg that
    table ``i`` covers; the last table covers everything above."""

    levels: tuple[int, ...]
    tables: tuple[Quantiles, ...]

    def for_load(self, in_flight: int) -> Quantiles:
        i = bisect.bisect_left(self.levels, in_flight)
        return self.tables[min(i, len(self.tables) - 1)]


@dataclass(frozen=True)
class Profile:
    """A calibrated machine: delay tables per load level, the timer model, and reference checks."""

    name: str
    send: Leveled
    response: Leveled
    granularity_us: int  # the selector's sleep unit (1000 µs for epoll/poll, 0 when exact)
    slack: Leveled  # µs past the rounded sleep at which a due timer's callback runs, by sleep length (µs)
    source: Mapping[str, Any]  # the whole document, for meta and checks
    sha256: str

    @property
    def checks(self) -> Mapping[str, Any]:
        checks = self.source.get("checks", {})
        return checks if isinstance(checks, Mapping) else {}

    def describe(self) -> dict[str, Any]:
        """What results.json meta records about the profile."""
        return {"name": self.name, "sha256": self.sha256, "version": self.source.get("version"),
                "created_utc": self.source.get("created_utc"), "client": self.source.get("client")}


def _leveled(doc: Mapping[str, Any], key: str, where: str) -> Leveled:
    part: Any = doc
    for k in key.split("."):
        part = part.get(k) if isinstance(part, Mapping) else None
    if not isinstance(part, Mapping):
        raise ProfileError(f"{where}: {key}: missing or not a table")
    levels, tables = part.get("levels"), part.get("quantiles_us")
    if not (isinstance(levels, list) and isinstance(tables, list) and len(tables) == len(levels) + 1 and tables):
        raise ProfileError(f"{where}: {key}: needs 'levels' (n ints) and 'quantiles_us' (n + 1 tables)")
    if any(not isinstance(v, int) or v < 1 for v in levels) or levels != sorted(levels):
        raise ProfileError(f"{where}: {key}.levels: ascending integers >= 1, got {levels!r}")
    return Leveled(tuple(levels), tuple(_table(t, f"{where}: {key}.quantiles_us") for t in tables))


def _table(t: Any, where: str) -> Quantiles:
    if not (isinstance(t, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in t)):
        raise ProfileError(f"{where}: a list of integer microseconds, got {str(t)[:60]}")
    try:
        return Quantiles(tuple(t))
    except ProfileError as e:
        raise ProfileError(f"{where}: {e}") from None


def parse_profile(doc: Any, name: str, where: str = "profile") -> Profile:
    """A :class:`Profile` from its parsed JSON; errors name ``where`` and the key."""
    if not isinstance(doc, Mapping):
        raise ProfileError(f"{where}: not a JSON object")
    if doc.get("format") != FORMAT:
        raise ProfileError(f"{where}: format: expected {FORMAT!r}, got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        raise ProfileError(f"{where}: version: expected {VERSION}, got {doc.get('version')!r}")
    timer = doc.get("timer")
    if not isinstance(timer, Mapping):
        raise ProfileError(f"{where}: timer: missing or not a table")
    gran = timer.get("granularity_us")
    if not (isinstance(gran, int) and gran >= 0):
        raise ProfileError(f"{where}: timer.granularity_us: an integer >= 0, got {gran!r}")
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return Profile(
        name=name,
        send=_leveled(doc, "send", where),
        response=_leveled(doc, "response", where),
        granularity_us=gran,
        slack=_leveled(doc, "timer.slack", where),
        source=doc,
        sha256=hashlib.sha256(canonical).hexdigest(),
    )


def _builtin_dir() -> Path:
    return Path(str(resources.files("bench") / "profiles"))


def profile_names() -> list[str]:
    """Profiles shipped with the package (``bench/profiles/*.json``)."""
    return sorted(p.stem for p in _builtin_dir().glob("*.json"))


def load_profile(spec: str) -> Profile | None:
    """``"none"`` → ``None`` (schedule only); a shipped profile's name; or a path to a JSON file."""
    if spec == NONE:
        return None
    path = Path(spec)
    if not (path.suffix == ".json" or path.exists()):
        path = _builtin_dir() / f"{spec}.json"
        if not path.exists():
            raise ProfileError(f"unknown profile {spec!r} (shipped: {', '.join(profile_names()) or 'none'}; "
                               f"'{NONE}' for schedule only; or a path to a .json file)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProfileError(f"{path}: cannot read the profile: {e}") from None
    return parse_profile(doc, path.stem if spec.endswith(".json") else spec, str(path))


def seed_for(scenario: str, repeat: int, base: int = 0) -> int:
    """The run's seed: from the scenario's name (and its optional ``seed``) and the repeat index.

    >>> seed_for("default", 0) == seed_for("default", 0) != seed_for("default", 1)
    True
    """
    digest = hashlib.sha256(f"ratebench/{scenario}/{base}/{repeat}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class TimerModel:
    """How long a real loop's selector sleeps for a requested timeout: rounded up to the selector's
    unit, plus a slack drawn from the table for that sleep's length. Used by
    :class:`bench.clock.VirtualEventLoop`.

        >>> slack = Leveled((1000,), (Quantiles((100, 100)), Quantiles((150, 150))))  # ≤ 1 ms, longer
        >>> m = TimerModel(1000, slack, random.Random(0))
        >>> m.sleep_us(300), m.sleep_us(1000), m.sleep_us(1001)
        (1100, 1100, 2150)
    """

    def __init__(self, granularity_us: int, slack: Leveled, rng: random.Random) -> None:
        self.granularity_us = granularity_us
        self.slack = slack
        self._rng = rng

    def sleep_us(self, timeout_us: int) -> int:
        """Microseconds a selector asked to wait ``timeout_us`` (> 0) really waits."""
        g = self.granularity_us
        wait = -(-timeout_us // g) * g if g > 0 else timeout_us
        return wait + self.slack.for_load(wait).at(self._rng.random())


class NetModel:
    """Per-attempt delays for the in-process transport (:class:`bench.transport.AsgiServer`),
    drawn from ``profile``'s table for the client's load at the time."""

    def __init__(self, profile: Profile, rng: random.Random) -> None:
        self.profile = profile
        self._rng = rng

    def request_delay(self, sending: int) -> float:
        """Seconds from send to arrival for an attempt sent while ``sending`` attempts (itself included)
        are on their way to the server."""
        return self.profile.send.for_load(sending).at(self._rng.random()) / 1e6

    def response_delay(self, receiving: int) -> float:
        """Seconds from the server's answer to the client having it, ``receiving`` answers (itself
        included) on their way back."""
        return self.profile.response.for_load(receiving).at(self._rng.random()) / 1e6


@dataclass(frozen=True)
class RunModel:
    """The model for one virtual run: the loop's timers and the transport's delays, one seed."""

    seed: int
    timers: TimerModel | None
    net: NetModel | None
    #: Where the virtual clock starts. A real run starts at an arbitrary phase of the server's
    #: clock-aligned windows (``floor(now / W)``); a modelled virtual run at a seeded one (whole µs within
    #: an hour), a schedule-only run at 0.
    start_s: float = 0.0

    @classmethod
    def build(cls, profile: Profile | None, seed: int) -> RunModel:
        if profile is None:
            return cls(seed, None, None)
        # Separate streams: how many timers a strategy sets must not shift the network's draws.
        return cls(seed, TimerModel(profile.granularity_us, profile.slack, random.Random(f"{seed}/timer")),
                   NetModel(profile, random.Random(f"{seed}/net")),
                   random.Random(f"{seed}/start").randrange(3600 * 10**6) / 1e6)
