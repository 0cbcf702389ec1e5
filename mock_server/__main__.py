"""``python -m mock_server --config FILE [--host 127.0.0.1] [--port N]``: serve the mock on its own.

The admin endpoints (``/__admin/*``) always want ``Authorization: Bearer TOKEN``. The token comes from
``--admin-token-file FILE`` (its first line), else ``$MOCK_SERVER_ADMIN_TOKEN``; with neither, the server
makes a random one and prints it (``mock_server: admin token: ...`` on stderr). Never on the command
line, where every local user can read it (``ps``).

Exits 2 without starting on a bad argument or config (the one-line error names it), 1 when the address
cannot be bound; "serving" is printed only once the socket is listening. ``--port 0`` takes any free
port (the line says which). ``--check`` validates the config and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from mock_server.admin import TOKEN_ENV, is_loopback_name
from mock_server.config import LOG_DIR, ConfigError, ServerConfig, check_log_file, load
from mock_server.guard import MAX_HEAD_BYTES, READ_TIMEOUT_S
from mock_server.process import die_with_parent


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("::1")
    (True, True, False, True)
    """
    return is_loopback_name(host)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535.

    >>> port_number("8080")
    8080
    >>> port_number("70000")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a port number 0..65535 (0: any free port), got '70000'
    """
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535 (0: any free port), got {text!r}")
    return port


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            v = kind(text)
        except ValueError:
            v = 0.0
        if not 0 < v < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
        return v
    return parse


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``OSError`` if it cannot be bound)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def read_token(args: argparse.Namespace) -> tuple[str, bool]:
    """``(token, generated)`` from ``--admin-token-file``, ``$MOCK_SERVER_ADMIN_TOKEN`` or a fresh random one."""
    if args.admin_token_file:
        try:
            token = Path(args.admin_token_file).read_text().splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError) as e:
            raise ConfigError(f"--admin-token-file {args.admin_token_file}: cannot read a token ({e!r})") from None
        if not token:
            raise ConfigError(f"--admin-token-file {args.admin_token_file}: the first line is empty")
        return token, False
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token, False
    return secrets.token_urlsafe(24), True


def main(argv: list[str] | None = None) -> int:
    die_with_parent()  # started by a runner: never outlive it, whatever kills it
    ap = argparse.ArgumentParser(prog="python -m mock_server", description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="TOML file: a scenario (its [server] table) or a bare server config")
    ap.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    ap.add_argument("--port", type=port_number, default=8080, help="port (default 8080; 0: any free port)")
    ap.add_argument("--admin-token-file", metavar="FILE",
                    help=f"read the admin token from FILE's first line (default ${TOKEN_ENV}, else a random "
                         "token, printed at start)")
    ap.add_argument("--admin-token", help=argparse.SUPPRESS)  # refused below with a reason
    ap.add_argument("--admin-host", action="append", default=[], metavar="NAME",
                    help="a Host name accepted on /__admin/* besides loopback (repeatable)")
    ap.add_argument("--log-dir", default=LOG_DIR,
                    help=f"the only directory the arrival log file may be written to (default ./{LOG_DIR})")
    ap.add_argument("--log-file", metavar="NAME", help="stream the arrival log to NAME (.csv) inside --log-dir")
    ap.add_argument("--max-header-bytes", type=_positive(int), default=MAX_HEAD_BYTES,
                    help=f"longest request head accepted, else 431 (default {MAX_HEAD_BYTES})")
    ap.add_argument("--read-timeout", type=_positive(float), default=READ_TIMEOUT_S,
                    help=f"seconds a client has to send a whole request, else 408 (default {READ_TIMEOUT_S:g})")
    ap.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)  # for mock_server.process
    ap.add_argument("--check", action="store_true", help="validate the config and exit (0 valid, 2 invalid)")
    args = ap.parse_args(argv)
    if args.admin_token is not None:
        print(f"mock_server: --admin-token: a token on the command line is visible to every local user (ps); "
              f"use --admin-token-file FILE or ${TOKEN_ENV}", file=sys.stderr)
        return 2
    try:
        config = load(args.config) if args.config else ServerConfig()
        if args.log_file:
            config = ServerConfig.from_dict({**config.to_dict(), "log": {
                **config.log.to_dict(), "file": check_log_file(args.log_file, "--log-file")}})
        token, generated = read_token(args)
    except ConfigError as e:
        print(f"mock_server: {e}", file=sys.stderr)
        return 2
    if args.check:
        print(f"mock_server: {args.config or 'default config'}: ok", file=sys.stderr)
        return 0
    if not is_loopback(args.host) and generated:
        # Reachable from other machines: the user must have chosen the token, and know it.
        print(f"mock_server: --host {args.host} is reachable from other machines: give --admin-token-file FILE "
              f"(or ${TOKEN_ENV}) so that only you can reset and reconfigure it", file=sys.stderr)
        return 2

    import uvicorn

    from mock_server.app import create_app
    from mock_server.guard import guarded_protocol

    try:
        app = create_app(config, admin_token=token, admin_hosts=admin_hosts(args), log_dir=args.log_dir)
    except (ConfigError, OSError) as e:
        print(f"mock_server: {e}", file=sys.stderr)
        return 2
    try:
        sock = listen(args.host, args.port)
    except (OSError, OverflowError) as e:
        print(f"mock_server: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"mock_server: serving http://{host}:{port}/ (admin: /__admin/config, /__admin/reset, "
          "/__admin/log, /__admin/stats)", file=sys.stderr, flush=True)
    if generated:
        print(f"mock_server: admin token: {token}", file=sys.stderr, flush=True)
    if args.ready_fd is not None:
        # The parent learns the port from its own child, never by probing a port someone else may hold.
        with os.fdopen(args.ready_fd, "w") as ready:
            ready.write(json.dumps({"port": port, "pid": os.getpid()}) + "\n")
    config_ = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                             http=guarded_protocol(args.max_header_bytes, args.read_timeout))
    uvicorn.Server(config_).run(sockets=[sock])
    return 0


def admin_hosts(args: argparse.Namespace) -> list[str]:
    """Host names accepted on the admin endpoints besides loopback: ``--admin-host``, and ``--host`` itself
    when it is a specific address (not a wildcard such as 0.0.0.0)."""
    hosts = list(args.admin_host)
    if args.host not in ("0.0.0.0", "::", "") and not is_loopback(args.host):
        hosts.append(args.host)
    return hosts


if __name__ == "__main__":
    sys.exit(main())
