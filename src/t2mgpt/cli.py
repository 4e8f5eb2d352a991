"""The `t2mgpt` command line.

Each subcommand is a module in `t2mgpt.commands` defining `NAME`, `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Modules import heavy libraries
inside `run` so that `t2mgpt --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from t2mgpt import __version__
from t2mgpt.errors import T2MGPTError


def _command_modules():
    import t2mgpt.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"t2mgpt.commands.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="t2mgpt", description="T2M-GPT: generate 3D human motion from text."
    )
    parser.add_argument("--version", action="version", version=f"t2mgpt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except T2MGPTError as e:
        print(f"t2mgpt {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
