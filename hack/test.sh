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
exit $rc
