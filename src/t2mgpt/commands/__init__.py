"""CLI subcommands, one module each (see t2mgpt.cli)."""
