"""The `t2mgpt` command line.

Each subcommand is a module in `t2mgpt.commands` defining `NAME`, `HELP`, optionally `EPILOG`
(shown as written after the options), `add_arguments(parser)` and `run(args) -> int` (module `train_vq` is command `train-vq`).
Modules import heavy libraries inside `run` so that `t2mgpt --help` stays fast, and a
command line naming a command imports only that command's module.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from t2mgpt import __version__
from t2mgpt.errors import T2MGPTError


def _command_modules(only: str | None = None):
    import t2mgpt.commands as pkg

    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    if only is not None and only.replace("-", "_") in names:
        module = importlib.import_module(f"t2mgpt.commands.{only.replace('-', '_')}")
        if module.NAME == only:
            yield module
            return
    for name in names:
        yield importlib.import_module(f"t2mgpt.commands.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of command `only` when that one exists."""
    parser = argparse.ArgumentParser(
        prog="t2mgpt", description="T2M-GPT: generate 3D human motion from text."
    )
    parser.add_argument("--version", action="version", version=f"t2mgpt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules(only):
        epilog = getattr(module, "EPILOG", None)  # kept as written: examples and file layouts
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter if epilog else argparse.HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    named = argv[0] if argv and not argv[0].startswith("-") else None
    parser = build_parser(only=named)
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
