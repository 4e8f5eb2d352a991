#!/usr/bin/env bash
# Create .venv and install t2mgpt into it. Safe to re-run.
# torch is installed first and pinned so pip never resolves an unpinned torch
# (on Linux that pulls a multi-GB CUDA build). Bring your own CUDA torch by
# installing it into .venv before running this, or set T2MGPT_TORCH_SPEC.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
VPY=.venv/bin/python
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
    "$VPY" -m pip install ${T2MGPT_TORCH_SPEC:-torch==2.13.0}
fi
EXTRAS=${1:-}
if [ -n "$EXTRAS" ]; then
    "$VPY" -m pip install -e ".[$EXTRAS]"
else
    "$VPY" -m pip install -e .
fi
