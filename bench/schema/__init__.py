"""JSON Schemas (draft 2020-12) of what ratebench writes and reads, shipped with the package:
``results.schema.json`` (a run directory's results.json) and ``scenario.schema.json`` (a scenario file, TOML
read as data). Any JSON Schema validator takes them; the tests validate real outputs and every shipped scenario.

>>> sorted(NAMES)
['results', 'scenario']
>>> load("results")["properties"]["schema_version"]
{'const': 1}
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = ("results", "scenario")


def load(name: str) -> dict[str, Any]:
    """The schema ``name`` (one of :data:`NAMES`) as a dict."""
    if name not in NAMES:
        raise ValueError(f"no schema {name!r} (known: {', '.join(NAMES)})")
    doc: dict[str, Any] = json.loads(resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8"))
    return doc
