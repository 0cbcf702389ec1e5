"""The examples in mock_server's docstrings are tests too (pytest is not run with --doctest-modules)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mock_server

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(mock_server.__path__, "mock_server.") if m.name != "mock_server.loadtest"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
