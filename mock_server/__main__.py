"""``python -m mock_server --config FILE [--host 127.0.0.1] [--port N]``: serve the mock on its own.

Exits 2 without starting when the config is invalid (the one-line error names the key), or when asked
to bind beyond loopback without an admin token (``--admin-token`` or ``MOCK_SERVER_ADMIN_TOKEN``):
anyone who can reach ``/__admin/reset`` can reconfigure the server. ``--check`` validates and exits.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from mock_server.config import ConfigError, ServerConfig, load
from mock_server.process import die_with_parent

TOKEN_ENV = "MOCK_SERVER_ADMIN_TOKEN"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("::1")
    (True, True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    die_with_parent()  # started by a runner: never outlive it, whatever kills it
    ap = argparse.ArgumentParser(prog="python -m mock_server", description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="TOML file: a scenario (its [server] table) or a bare server config")
    ap.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    ap.add_argument("--admin-token", default=os.environ.get(TOKEN_ENV),
                    help=f"require 'Authorization: Bearer TOKEN' on /__admin/* (default ${TOKEN_ENV}); "
                         "mandatory when --host is not loopback")
    ap.add_argument("--check", action="store_true", help="validate the config and exit (0 valid, 2 invalid)")
    args = ap.parse_args(argv)
    try:
        config = load(args.config) if args.config else ServerConfig()
    except ConfigError as e:
        print(f"mock_server: {e}", file=sys.stderr)
        return 2
    if args.check:
        print(f"mock_server: {args.config or 'default config'}: ok", file=sys.stderr)
        return 0
    if not is_loopback(args.host) and not args.admin_token:
        print(f"mock_server: --host {args.host} is reachable from other machines: give --admin-token TOKEN "
              f"(or ${TOKEN_ENV}) so that only you can reset and reconfigure it", file=sys.stderr)
        return 2

    import uvicorn

    from mock_server.app import create_app

    app = create_app(config, admin_token=args.admin_token or None)
    print(f"mock_server: serving http://{args.host}:{args.port}/ (admin: /__admin/config, /__admin/reset, "
          "/__admin/log, /__admin/stats)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, http="httptools",
                lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
