"""`metaflow-orchestrators emulate windmill [--port 8000] [--host H] [--token T] [--workspace W] ...`."""
from __future__ import annotations

import argparse
import os
import tempfile
from typing import List, Optional, Sequence

from .emulator import DEFAULT_TOKEN, DEFAULT_WORKSPACE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metaflow-orchestrators emulate windmill",
                                     description="A local Windmill-compatible server that really runs flows.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default=os.environ.get("WINDMILL_TOKEN") or DEFAULT_TOKEN,
                        help="the Bearer token clients must send (default: $WINDMILL_TOKEN or %(default)s)")
    parser.add_argument("--workspace", default=os.environ.get("WINDMILL_WORKSPACE") or DEFAULT_WORKSPACE)
    parser.add_argument("--workdir", default=None, help="where job directories are created")
    parser.add_argument("--whitelist-env", action="append", default=[],
                        help="worker env vars passed to jobs (like WHITELIST_ENVS; comma-separated, globs allowed)")
    parser.add_argument("--keep-job-dirs", action="store_true", help="like KEEP_JOB_DIR: keep job directories")
    return parser


def _split(values: Sequence[str]) -> List[str]:
    names: List[str] = []
    for value in values:
        names.extend(v.strip() for v in value.split(",") if v.strip())
    return names


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    from ..serving import serve_forever
    from . import create_app
    whitelist = _split(args.whitelist_env) + _split([os.environ.get("WHITELIST_ENVS", "")])
    serve_forever(lambda url: create_app(token=args.token, workspace=args.workspace,
                                         workdir=args.workdir or tempfile.mkdtemp(prefix="windmill-emulator-"),
                                         whitelist_env=whitelist, keep_job_dirs=args.keep_job_dirs, base_url=url),
                  args.host, args.port, "windmill")
    return 0
