#!/usr/bin/env bash
# Regenerate the HatchetWorker CRD from the operator's models into both places that ship it:
# crds/ (for `kubectl apply`) and the chart's files/ (templated by charts/hatchet-operator/templates/crd.yaml).
# tests/integration/chart/test_chart_render.py fails when either copy differs from `hatchet-operator crd`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VENV=${VENV:-$ROOT_DIR/.venv}
FILE=hatchetkube.io_hatchetworkers.yaml
"$VENV/bin/hatchet-operator" crd >"$ROOT_DIR/crds/$FILE"
cp "$ROOT_DIR/crds/$FILE" "$ROOT_DIR/charts/hatchet-operator/files/$FILE"
log "wrote crds/$FILE and charts/hatchet-operator/files/$FILE"
