"""The ``metaflow-orchestrators`` console script: ``metaflow-orchestrators emulate kestra|windmill``."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

ENGINES = ("kestra", "windmill")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="metaflow-orchestrators")
    commands = parser.add_subparsers(dest="command", required=True)
    emulate = commands.add_parser("emulate", help="run a local engine emulator")
    emulate.add_argument("engine", choices=ENGINES)
    args, rest = parser.parse_known_args(argv)
    # Each emulator owns its options; it gets the rest of the command line.
    module = importlib.import_module("metaflow_orchestrators.emulators.%s.cli" % args.engine)
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
