#!/usr/bin/env bash
# Set up .venv and run the main job: text -> motion with the bundled demo model (offline).
# Extra arguments go to `t2mgpt generate`, e.g. `bash scripts/demo.sh -n 3`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/t2mgpt generate "a person waves with the right hand" --seed 0 \
    --format mp4,bvh,npy --out-dir outputs --overwrite "$@"
