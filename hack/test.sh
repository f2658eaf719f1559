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
# The e2e tier needs one cluster provider per pytest run. Where both can run, the whole tier runs on the
# real node, and on kind as well the operator and probe tests and the drain-deadline fault test (a pod
# deleted while its tasks end just before the drain deadline). The long fault tests (exactly once across
# six faults, a 90 s engine outage) run once per `make test`, on the real node: a second copy on kind
# would add about 9 minutes. Set HATCHET_E2E_CLUSTER to run the whole tier on one provider.
providers=$("$VENV/bin/python" - <<'PY'
import sys
sys.path[:0] = ["tests"]
from e2e.e2e_clusters import PROVIDERS
print(" ".join(name for name in ("real-node", "kind") if PROVIDERS[name].missing() is None))
PY
)
full=${HATCHET_E2E_CLUSTER:-$(awk '{print $1}' <<<"$providers")}
second=
if [ $# -eq 0 ] && [ -z "${HATCHET_E2E_CLUSTER:-}" ] && [ "$providers" = "real-node kind" ]; then second=kind; fi
log "pytest (e2e tier on: ${full:-no provider can run here})"
[ -z "$full" ] || export HATCHET_E2E_CLUSTER=$full
set +e
"$VENV/bin/pytest" "$@"
rc=$?
set -e
# pytest exits 5 when it collected nothing: that is a failure here, never a silent pass.
if [ $rc -eq 5 ]; then log "pytest collected no tests"; exit 1; fi
if [ -n "$second" ]; then
  log "pytest: the e2e operator, probe and drain-deadline tests on kind too"
  HATCHET_E2E_CLUSTER=$second "$VENV/bin/pytest" tests/e2e/test_e2e_operator.py tests/e2e/test_e2e_probes.py \
    "tests/e2e/test_e2e_faults.py::test_sigterm_while_tasks_end_just_before_the_drain_deadline" || rc=1
fi
exit $rc
