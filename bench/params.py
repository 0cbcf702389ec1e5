"""Strategy parameters from a scenario and the command line, and sweeps over them.

A strategy declares its parameters (:class:`strategies.base.Param`); a scenario sets them in a
``[params.<strategy>]`` table, the command line with ``--param STRATEGY.NAME=V1,V2,...`` (repeatable; it
overrides the scenario's value of the same parameter). A list of values is a *sweep*: every combination
of one strategy's values is a run of its own, a row named ``strategy[name=value,...]``
(:func:`strategies.base.configured`)::

    [params.pyrate-memory]
    buffer_ms = [0, 10, 25, 50]    # four rows: pyrate-memory[buffer_ms=0] ... [buffer_ms=50]

>>> spec = parse_cli(["token-bucket.capacity=1,5"])
>>> [c.name for c in expand(["token-bucket", "unlimited"], spec)]
['token-bucket[capacity=1]', 'token-bucket[capacity=5]', 'unlimited']
>>> expand(["token-bucket"], parse_cli(["token-bucket.size=2"]))
Traceback (most recent call last):
...
bench.params.ParamError: --param token-bucket.size: strategy 'token-bucket' has no parameter 'size' (it has: capacity)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from bench.suggest import did_you_mean
from strategies import registry
from strategies.base import ParamValue, Strategy, configured

__all__ = ["ParamError", "Spec", "describe", "expand", "from_table", "merge", "parse_cli", "sweep_meta"]

#: strategy -> parameter -> (raw values, where they were given). One value: a setting; several: a sweep.
Spec = dict[str, dict[str, tuple[tuple[object, ...], str]]]


class ParamError(ValueError):
    """A parameter setting names an unknown strategy or parameter, or a value of the wrong type."""


def parse_cli(items: Sequence[str]) -> Spec:
    """``--param`` values (``STRATEGY.NAME=V1,V2``) as a :data:`Spec`; the same parameter twice is an error.

    The strategy is everything before the last ``.`` of the key (a strategy given as ``pkg.mod:Class`` keeps
    its dots).

    >>> parse_cli(["pyrate-memory.buffer_ms=0,10", "aiolimiter.time_period=60"])["pyrate-memory"]
    {'buffer_ms': (('0', '10'), '--param pyrate-memory.buffer_ms')}
    >>> parse_cli(["capacity=5"])
    Traceback (most recent call last):
    ...
    bench.params.ParamError: --param 'capacity=5': expected STRATEGY.NAME=VALUE[,VALUE...]
    """
    spec: Spec = {}
    for item in items:
        key, eq, raw = item.partition("=")
        strategy, dot, name = key.strip().rpartition(".")
        values = tuple(v.strip() for v in raw.split(","))
        if not (eq and dot and strategy and name.isidentifier() and all(values)):
            raise ParamError(f"--param {item!r}: expected STRATEGY.NAME=VALUE[,VALUE...]")
        where = f"--param {strategy}.{name}"
        if name in spec.get(strategy, {}):
            raise ParamError(f"{where}: given twice (list the values once: {name}=A,B)")
        spec.setdefault(strategy, {})[name] = (values, where)
    return spec


def from_table(data: object) -> Spec:
    """A scenario's ``[params]`` table (``[params.<strategy>]`` tables of scalars or non-empty arrays of
    scalars) as a :data:`Spec`; structure only: names and types are checked by :func:`expand`.

    >>> from_table({"token-bucket": {"capacity": [1, 5]}})
    {'token-bucket': {'capacity': ((1, 5), 'params.token-bucket.capacity')}}
    >>> from_table({"token-bucket": {"capacity": []}})
    Traceback (most recent call last):
    ...
    bench.params.ParamError: params.token-bucket.capacity: an empty list (give at least one value)
    """
    if not isinstance(data, Mapping):
        raise ParamError(f"params: must be a table of [params.<strategy>] tables, got {data!r}")
    spec: Spec = {}
    for strategy, table in data.items():
        if not isinstance(table, Mapping):
            raise ParamError(f"params.{strategy}: must be a table of parameter = value, got {table!r}")
        for name, value in table.items():
            where = f"params.{strategy}.{name}"
            values = tuple(value) if isinstance(value, list) else (value,)
            if not values:
                raise ParamError(f"{where}: an empty list (give at least one value)")
            if any(isinstance(v, Mapping | list) for v in values):
                raise ParamError(f"{where}: values must be numbers, booleans or strings, got {value!r}")
            spec.setdefault(str(strategy), {})[str(name)] = (values, where)
    return spec


def merge(scenario: Spec, cli: Spec) -> Spec:
    """The scenario's settings with the command line's on top (per strategy and parameter).

    >>> merge(from_table({"a": {"x": 1, "y": 2}}), parse_cli(["a.x=3"]))["a"]["x"]
    (('3',), '--param a.x')
    """
    out: Spec = {s: dict(p) for s, p in scenario.items()}
    for s, p in cli.items():
        out.setdefault(s, {}).update(p)
    return out


def expand(names: Sequence[str], spec: Spec) -> list[type[Strategy]]:
    """The strategy classes to run: each of ``names`` (resolved by :mod:`strategies.registry`), or one
    configured subclass per combination of its parameter values, in the order the values were given.

    Settings are matched to a strategy by its name or by the spec it was listed as. A ``--param`` for a
    strategy not listed is an error; a scenario's table for one not listed is checked and left unused.
    Every name and value is checked before anything runs (:class:`ParamError` naming it).
    """
    classes = [registry.resolve(n) for n in names]
    used: set[str] = set()
    out: list[type[Strategy]] = []
    for given, cls in zip(names, classes, strict=True):
        keys = [k for k in (cls.name, given) if k in spec]
        settings: dict[str, tuple[tuple[object, ...], str]] = {}
        for k in keys:
            used.add(k)
            settings.update(spec[k])
        if not settings:
            out.append(cls)
            continue
        axes = _parse_values(cls, settings)
        for combo in itertools.product(*axes.values()):
            out.append(configured(cls, dict(zip(axes, combo, strict=True))))
    for strategy, settings in spec.items():
        if strategy in used:
            continue
        where = next(iter(settings.values()))[1]
        if where.startswith("--param"):
            run = list(dict.fromkeys([*names, *(c.name for c in classes)]))
            raise ParamError(f"{where}: strategy {strategy!r} is not among the strategies run "
                             f"({', '.join(names)}){did_you_mean(strategy, run)}")
        if ":" not in strategy and strategy not in (known := registry.names()):
            # The near names, not the registry's whole list (31 names hide the one meant).
            raise ParamError(f"{where}: unknown strategy {strategy!r}"
                             + (did_you_mean(strategy, known) or " (ratebench list shows the strategies)"))
        try:
            _parse_values(registry.resolve(strategy), settings)
        except registry.UnknownStrategy as e:
            raise ParamError(f"{where}: {e}") from None
    seen: set[str] = set()
    for c in out:
        if c.name in seen:
            raise ParamError(f"{c.name!r} would run twice (a value listed twice?)")
        seen.add(c.name)
    return out


def _parse_values(cls: type[Strategy], settings: Mapping[str, tuple[tuple[object, ...], str]],
                  ) -> dict[str, list[ParamValue]]:
    declared = {p.name: p for p in cls.params}
    axes: dict[str, list[ParamValue]] = {}
    for name, (raw, where) in settings.items():
        if name not in declared:
            raise ParamError(f"{where}: strategy {cls.name!r} has no parameter {name!r}"
                             f"{did_you_mean(name, list(declared))} (it has: {', '.join(declared) or 'none'})")
        try:
            axes[name] = [declared[name].parse(v) for v in raw]
        except ValueError as e:
            raise ParamError(f"{where}: {e}") from None
    # Declaration order, so a configuration's name does not depend on the order the settings were given.
    return {p.name: axes[p.name] for p in cls.params if p.name in axes}


def sweep_meta(classes: Sequence[type[Strategy]]) -> dict[str, dict[str, Any]]:
    """results.json ``meta.params``: per configured row, the strategy it configures and its values.

    >>> from strategies.registry import resolve
    >>> sweep_meta(expand(["pyrate-memory"], parse_cli(["pyrate-memory.buffer_ms=10"])))
    {'pyrate-memory[buffer_ms=10]': {'strategy': 'pyrate-memory', 'values': {'buffer_ms': 10}}}
    """
    return {c.name: {"strategy": c.base_name, "values": dict(c.param_values)} for c in classes if c.param_values}


def describe(cls: type[Strategy]) -> list[dict[str, Any]]:
    """A strategy's parameters for listings and docs: name, type, value as built in (``None``: derived
    from the quota), doc.

    >>> [(d["name"], d["type"], d["default"]) for d in describe(registry.resolve("pyrate-memory-buffered"))]
    [('buffer_ms', 'int', 50)]
    """
    return [{"name": p.name, "type": p.type.__name__, "default": getattr(cls, p.name, p.default), "doc": p.doc}
            for p in cls.params]
