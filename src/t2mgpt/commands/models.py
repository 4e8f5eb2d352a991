"""`t2mgpt models`: list the bundled and locally saved text-to-motion models."""
from __future__ import annotations

import argparse
import json

NAME = "models"
HELP = "List the bundled and locally saved models (name, path, text encoder, dataset, size)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def run(args: argparse.Namespace) -> int:
    from t2mgpt.io.lookup import DEFAULT_MODEL, list_models, models_home

    entries = list_models()
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print(f"no models installed. Saved models go to {models_home()} (set T2MGPT_HOME to move it);\n"
              "convert the official T2M-GPT weights with: t2mgpt import-official --help")
        return 0
    rows = [("NAME", "SOURCE", "TEXT ENCODER", "DATASET", "SIZE", "PATH")]
    for e in entries:
        c = e.config
        name = e.name + (" (default)" if e.name == DEFAULT_MODEL else "")
        if c is None:
            rows.append((name, e.source, "-", "-", _size(e.size_bytes), f"{e.path}  [unreadable: {e.error}]"))
        else:
            rows.append((name, e.source, f"{c.text_encoder} ({c.text_dim}-d)", c.dataset, _size(e.size_bytes),
                         str(e.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1])
    return 0
