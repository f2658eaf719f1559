# Shared helpers for hack/*.sh. Sourced, not executed.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$HACK_DIR/.." && pwd)
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
CACHE_DIR=${HATCHET_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hatchet-k8s}
mkdir -p "$CACHE_DIR"
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export CGO_ENABLED=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# with_lock NAME CMD...: serialise builds of one artefact across concurrent runs.
with_lock() {
  local name=$1; shift
  mkdir -p "$CACHE_DIR/locks"
  flock "$CACHE_DIR/locks/$name.lock" "$@"
}

# apt_ensure CMD PKG...: install Debian packages when CMD is missing.
apt_ensure() {
  local cmd=$1; shift
  if command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ]; then return 0; fi
  log "installing $* (for $cmd)"
  if [ ! -f "$CACHE_DIR/.apt-updated" ] || [ -n "$(find "$CACHE_DIR/.apt-updated" -mmin +1440)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && touch "$CACHE_DIR/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
