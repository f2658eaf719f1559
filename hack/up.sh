#!/usr/bin/env bash
# The main job on the embedded default: set up (cached), then start a local control plane and
# Hatchet engine, run the operator, apply the example HatchetWorker and show it converging.
# Arguments go to hack/up.py (`--once` stops after convergence instead of waiting for Ctrl-C).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$HACK_DIR/bootstrap.sh"
VENV=${VENV:-$ROOT_DIR/.venv}
exec "$VENV/bin/python" "$HACK_DIR/up.py" "$@"
