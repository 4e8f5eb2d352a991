"""The package layout does not break Python started inside it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "t2mgpt"


def test_no_module_shadows_the_standard_library_when_python_starts_in_the_package():
    names = sorted({p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
                   & set(sys.stdlib_module_names))
    code = (f"import importlib\nfor n in {names!r}:\n"
            "    m = importlib.import_module(n)\n    print(n, getattr(m, '__file__', None) or 'built-in')")
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    shadowed = [line for line in result.stdout.splitlines() if str(PACKAGE) in line]
    assert shadowed == []
