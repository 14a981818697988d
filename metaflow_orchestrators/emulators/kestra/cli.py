"""`metaflow-orchestrators emulate kestra [--port 8080] [--version 1|2] [--username U --password P]`."""
from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence

from ..serving import serve_forever
from .app import create_app


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="metaflow-orchestrators emulate kestra",
                                     description="Run a local Kestra-compatible server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--version", type=int, choices=(1, 2), default=2, help="Kestra major version to emulate")
    parser.add_argument("--username", default=os.environ.get("KESTRA_EMULATOR_USERNAME"))
    parser.add_argument("--password", default=os.environ.get("KESTRA_EMULATOR_PASSWORD"))
    parser.add_argument("--workdir", default=None, help="where task working directories are created")
    args = parser.parse_args(argv)
    if (args.username is None) != (args.password is None):
        parser.error("--username and --password go together")
    serve_forever(lambda url: create_app(version=args.version, username=args.username, password=args.password,
                                         workdir=args.workdir), args.host, args.port, "Kestra %d.x" % args.version)
    return 0
