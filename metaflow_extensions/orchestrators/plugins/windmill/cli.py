"""``python flow.py windmill ...``: the Windmill command group."""
from ..cli_common import engine_cli

cli, windmill = engine_cli("windmill", "Windmill (compile, create, trigger, ... arrive with the Windmill back end)")
