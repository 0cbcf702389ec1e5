"""``python -m mock_server --config FILE [--host 127.0.0.1] [--port N]``: serve the mock on its own."""

from __future__ import annotations

import argparse
import sys

from mock_server.config import ConfigError, ServerConfig, load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mock_server", description=__doc__)
    ap.add_argument("--config", help="TOML file: a scenario (its [server] table) or a bare server config")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args(argv)
    try:
        config = load(args.config) if args.config else ServerConfig()
    except ConfigError as e:
        print(f"mock_server: {e}", file=sys.stderr)
        return 2

    import uvicorn

    from mock_server.app import create_app

    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning", access_log=False,
                http="httptools")
    return 0


if __name__ == "__main__":
    sys.exit(main())
