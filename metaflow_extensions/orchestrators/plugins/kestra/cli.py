"""``python flow.py kestra ...``: the Kestra command group."""
from ..cli_common import engine_cli

cli, kestra = engine_cli("kestra", "Kestra (compile, create, trigger, ... arrive with the Kestra back end)")
