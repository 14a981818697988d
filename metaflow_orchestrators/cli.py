"""The ``metaflow-orchestrators`` console script: ``metaflow-orchestrators emulate kestra|windmill``."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

ENGINES = ("kestra", "windmill")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "emulate" and args[1] in ENGINES:
        # Each emulator owns its options (and its --help): it gets the rest of the command line.
        module = importlib.import_module("metaflow_orchestrators.emulators.%s.cli" % args[1])
        return int(module.main(args[2:]) or 0)
    parser = argparse.ArgumentParser(prog="metaflow-orchestrators")
    commands = parser.add_subparsers(dest="command", required=True)
    emulate = commands.add_parser("emulate", help="run a local engine emulator (emulate ENGINE --help)")
    emulate.add_argument("engine", choices=ENGINES)
    parser.parse_args(args)  # only reached for help or a bad command line: argparse explains and exits
    return 2


if __name__ == "__main__":
    sys.exit(main())
