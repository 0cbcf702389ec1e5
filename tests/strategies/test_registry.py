"""Resolving ``--strategies`` names: any error while importing a user's module is an UnknownStrategy (exit 2)
naming the spec and the error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from strategies.registry import UnknownStrategy, resolve


@pytest.mark.parametrize(("source", "error"), [
    ("class X(:\n", "SyntaxError"),
    ("raise RuntimeError('needs an API key')\n", "RuntimeError: needs an API key"),
    ("import sys\nsys.exit(4)\n", "SystemExit: 4"),
])
def test_a_module_that_fails_to_import_is_an_unknown_strategy_naming_the_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, error: str) -> None:
    (tmp_path / "ratebench_broken_mod.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownStrategy, match="cannot load strategy 'ratebench_broken_mod:X'") as caught:
        resolve("ratebench_broken_mod:X")
    assert error in str(caught.value)


@pytest.mark.parametrize(("spec", "error"), [(":", "ValueError"), (".x:Y", "TypeError"),
                                             ("strategies.registry:nope", "AttributeError")])
def test_malformed_specs_are_unknown_strategies(spec: str, error: str) -> None:
    with pytest.raises(UnknownStrategy, match=f"cannot load strategy {spec!r}: {error}"):
        resolve(spec)
