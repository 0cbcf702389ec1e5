"""The examples in the docstrings of bench, mock_server and strategies are tests too (pytest is not run with
--doctest-modules). Examples that need the virtual loop drive it themselves with ``bench.clock.run``."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bench
import mock_server
import strategies

# bench.__main__ runs the CLI when imported. (mock_server.__main__ only runs under ``if __name__ == "__main__"``
# and has an example of its own, so it stays in.)
SKIP = {"bench.__main__"}

MODULES = sorted(
    m.name
    for pkg in (bench, mock_server, strategies)
    for m in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.")
    if m.name not in SKIP
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
