"""Who may use ``/__admin/*``: the token, a loopback ``Host``, JSON bodies of bounded size and depth.

The admin endpoints can reset and reconfigure the server, so every admin request must pass, in order:

1. ``Host`` names a loopback address (``localhost``, ``127.x.y.z``, ``[::1]``, any port) or one of the
   extra names the server was started with: a web page that rebinds its own DNS name to 127.0.0.1
   (DNS rebinding) still sends its own name, and gets 421;
2. ``Authorization: Bearer <token>`` (the scheme in any case), the token compared in constant time: 401;
3. a ``POST`` says ``Content-Type: application/json``: a cross-origin ``text/plain`` form post, which a
   browser sends without asking, gets 415; its body is at most :data:`MAX_BODY` bytes (413) of JSON that
   is not nested absurdly deep (400, not a ``RecursionError``).

An app served over a socket always has a token (``python -m mock_server`` makes one if none is given).
Only an in-process app, which no socket and so no browser reaches, may have none: then checks 1 and 2
are moot and skipped (in-process clients may use any base URL), and the body rules still apply.

>>> guard = AdminGuard(token="t0k")
>>> guard.refuse("POST", {"host": "127.0.0.1:8080", "authorization": "Bearer t0k",
...                       "content-type": "text/plain"})
(415, 'admin POST bodies must be Content-Type: application/json, got text/plain')
>>> guard.refuse("GET", {"host": "evil.example:8080", "authorization": "Bearer t0k"})[0]
421
>>> guard.refuse("GET", {"host": "localhost:8080", "authorization": "Bearer t0k"}) is None
True
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Where ``python -m mock_server`` looks for its admin token (and where its parent process puts one).
TOKEN_ENV = "MOCK_SERVER_ADMIN_TOKEN"
#: Largest admin request body accepted (a full config is a few kB).
MAX_BODY = 1024 * 1024
#: Deepest JSON nesting accepted in an admin body (a config nests four levels).
MAX_DEPTH = 32


class BodyError(ValueError):
    """An admin body that is not acceptable JSON: ``status`` (400 or 413) and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_BRACKETED = re.compile(r"\[([^\[\]]*)\](?::[0-9]+)?")


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header value, lower-cased, without port or IPv6 brackets.

    >>> host_name("[::1]:8080"), host_name("LocalHost:1"), host_name("127.0.0.1")
    ('::1', 'localhost', '127.0.0.1')
    >>> host_name("[::1]evil.example"), host_name("localhost:x")  # malformed: no name
    ('', '')
    """
    h = host_header.strip().lower()
    if h.startswith("["):
        # Strict: ``[v6]`` then nothing or ``:port`` (digits). Anything else ("[::1]evil.example") names no
        # host we know: "" (never loopback, never an --admin-host name).
        m = _BRACKETED.fullmatch(h)
        return m.group(1) if m else ""
    if h.count(":") == 1:
        name, port = h.split(":")
        return name if port.isascii() and port.isdigit() else ""
    return h


def is_loopback_name(name: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``).

    >>> is_loopback_name("localhost"), is_loopback_name("127.1.2.3"), is_loopback_name("0.0.0.0")
    (True, True, False)
    """
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AdminGuard:
    """The checks of the module docstring; ``hosts`` are extra ``Host`` names allowed besides loopback."""

    token: str | None = None
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def make(cls, token: str | None, hosts: Collection[str] = ()) -> AdminGuard:
        return cls(token, frozenset(h.lower() for h in hosts))

    def refuse(self, method: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
        """``(status, reason)`` if the request must be refused, else ``None``."""
        if self.token is not None:  # served over a socket
            name = host_name(headers.get("host", ""))
            if not (is_loopback_name(name) or name in self.hosts):
                return 421, (f"admin requests must name a loopback Host (127.0.0.1, localhost, [::1]), "
                             f"got {headers.get('host', '')!r}")
            # The scheme is case-insensitive (RFC 7235 §2.1: "bearer" is "Bearer"); the token is compared in
            # constant time, and the scheme, not secret, plainly.
            scheme, _, given = headers.get("authorization", "").encode("latin-1", "replace").partition(b" ")
            if not (hmac.compare_digest(given.lstrip(b" "), self.token.encode()) and scheme.lower() == b"bearer"):
                return 401, "admin token required (Authorization: Bearer TOKEN)"
        if method == "POST":
            ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype != "application/json":
                return 415, f"admin POST bodies must be Content-Type: application/json, got {ctype or 'none'}"
        return None


def parse_body(body: bytes) -> Any:
    """The JSON value of an admin body (``None`` when empty); :class:`BodyError` otherwise.

    >>> parse_body(b'{"quota": []}'), parse_body(b"")
    ({'quota': []}, None)
    >>> parse_body(b"[" * 100_000 + b"]" * 100_000)
    Traceback (most recent call last):
    ...
    mock_server.admin.BodyError: body: JSON nested deeper than 32 levels
    """
    if len(body) > MAX_BODY:
        raise BodyError(413, f"body: larger than {MAX_BODY} bytes")
    if not body.strip():
        return None
    if _depth(body) > MAX_DEPTH:
        raise BodyError(400, f"body: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise BodyError(400, f"body: not valid JSON: {e}") from None


def _depth(body: bytes) -> int:
    """Deepest bracket nesting outside strings: checked before parsing, so that no parser recursion
    (C or Python) sees a hostile depth."""
    depth = deepest = 0
    in_string = escaped = False
    for b in body:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:  # quote
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest
