#!/usr/bin/env bash
# The main job: set up (cached), then start a local cluster and Hatchet engine, install the operator,
# apply the example HatchetWorker, show it converging and trigger a run. On a real node (kubelet +
# containerd) where this machine can run one, else on kwok's simulated nodes (hack/up.py says why).
# Arguments go to hack/up.py: `--once` stops after the run instead of waiting for Ctrl-C;
# `--mode kwok|real-node` (or HATCHET_UP_MODE) overrides the automatic choice.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$HACK_DIR/bootstrap.sh"
VENV=${VENV:-$ROOT_DIR/.venv}
exec "$VENV/bin/python" "$HACK_DIR/up.py" "$@"
