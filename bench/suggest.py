""""Did you mean …?" for a mistyped name: the near ones, not the whole list.

>>> near("token-buket", ["token-bucket", "token-bucket-naive", "aiolimiter"])
['token-bucket', 'token-bucket-naive']
>>> near("zzz", ["token-bucket"])
[]
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def near(name: str, names: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``names`` close to ``name`` (difflib's ratio ≥ 0.6), closest first."""
    return difflib.get_close_matches(name, names, n=n, cutoff=0.6)


def did_you_mean(name: str, names: Sequence[str]) -> str:
    """`` (did you mean 'a', 'b' or 'c'?)`` or ``""`` when nothing is near.

    >>> did_you_mean("defualt", ["default", "llm-api"])
    " (did you mean 'default'?)"
    """
    close = near(name, names)
    if not close:
        return ""
    quoted = [repr(c) for c in close]
    return " (did you mean " + (", ".join(quoted[:-1]) + " or " if len(quoted) > 1 else "") + quoted[-1] + "?)"
