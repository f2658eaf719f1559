#!/usr/bin/env bash
# The test command: set-up (hack/bootstrap.sh), lint, type-check, then every test tier this machine
# can run. Extra arguments go to pytest (e.g. `hack/test.sh tests/unit -x`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$HACK_DIR/bootstrap.sh"
VENV=${VENV:-$ROOT_DIR/.venv}
cd "$ROOT_DIR"
log "ruff"
"$VENV/bin/ruff" check sdk operator tests bench examples hack
log "mypy --strict"
"$VENV/bin/mypy"
log "pytest"
set +e
"$VENV/bin/pytest" "$@"
rc=$?
set -e
# pytest exits 5 when it collected nothing: that is a failure here, never a silent pass.
if [ $rc -eq 5 ]; then log "pytest collected no tests"; exit 1; fi
# The e2e tier ran on one cluster provider (kind where it can run). Where the other can run too, the
# end-to-end operator test (helm install, the fleet Ready, runs executed by pods, delete and cleanup)
# runs on it as well, so both providers stay proven.
if [ $# -eq 0 ]; then
  other=$("$VENV/bin/python" - <<'PY'
import sys
sys.path[:0] = ["tests"]
from e2e.e2e_clusters import PROVIDERS, selected
chosen, _ = selected()
print(next((name for name, p in PROVIDERS.items() if p is not chosen and p.missing() is None), ""))
PY
)
  if [ -n "$other" ]; then
    log "pytest: the e2e operator test on the other cluster provider, $other"
    HATCHET_E2E_CLUSTER=$other "$VENV/bin/pytest" tests/e2e/test_e2e_operator.py || rc=1
  fi
fi
exit $rc
