#!/usr/bin/env bash
# Everything a fresh machine needs before the tests or the local stack can run: Debian packages,
# the pinned peer binaries (built once, cached outside the repo) and the project's virtualenv.
# Idempotent; a second run only checks stamps.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s)
bash "$HACK_DIR/ensure-deps.sh"
# The two Go builds are independent: run them side by side.
bash "$HACK_DIR/build-kube.sh" >"$CACHE_DIR/build-kube.log" 2>&1 & kube_pid=$!
bash "$HACK_DIR/build-hatchet.sh" >"$CACHE_DIR/build-hatchet.log" 2>&1 & hatchet_pid=$!

VENV=${VENV:-$ROOT_DIR/.venv}
stamp=$(cat "$ROOT_DIR/pyproject.toml" | sha256sum | cut -c1-16)-$(python3 -c 'import sys; print(sys.version.split()[0])')
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "creating the virtualenv ($VENV)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e "$ROOT_DIR[dev]"
  echo "$stamp" > "$VENV/.stamp"
fi

fail=0
wait $kube_pid || { log "Kubernetes build failed:"; tail -30 "$CACHE_DIR/build-kube.log" >&2; fail=1; }
wait $hatchet_pid || { log "Hatchet build failed:"; tail -30 "$CACHE_DIR/build-hatchet.log" >&2; fail=1; }
[ $fail = 0 ] || exit 1
log "bootstrap done in $(( $(date +%s) - t0 ))s"
