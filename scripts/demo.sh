#!/usr/bin/env bash
# Set up .venv and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p outputs
.venv/bin/t2mgpt render --sample -o outputs/sample.mp4 --title "HumanML3D sample clip" --overwrite
