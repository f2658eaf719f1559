#!/usr/bin/env bash
# Build the Hatchet engine (hatchet-lite = API + engine in one process), its migrator and admin
# CLI from the engine's Go module, into $CACHE_DIR/hatchet/v$HATCHET_ENGINE_VERSION/bin.
# A throwaway module is used because the proxy does not list the module's versions, which
# `go install pkg@version` needs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
V=$HATCHET_ENGINE_VERSION
BASE=$CACHE_DIR/hatchet/v$V
OUT=$BASE/bin
exec 9>"$CACHE_DIR/hatchet-v$V.lock"; flock 9
if [ ! -f "$OUT/.done" ]; then
  log "building Hatchet engine v$V (first run only; takes minutes)"
  MOD=$BASE/mod; mkdir -p "$MOD" "$OUT"; cd "$MOD"
  [ -f go.mod ] || go mod init hatchet-k8s.local/hatchetbuild >/dev/null 2>&1
  UPSTREAM=$(go mod download -json "github.com/hatchet-dev/hatchet@v$V" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  go mod edit -go="$(awk '$1=="go"{print $2; exit}' "$UPSTREAM")" -require="github.com/hatchet-dev/hatchet@v$V"
  # Start from upstream's exact requirement set so selection matches the engine's own build.
  awk '/^require \(/{b=1;next} b&&/^\)/{b=0} b&&NF>=2&&$1!~"//"{print $1"@"$2}' "$UPSTREAM" | while read -r req; do
    go mod edit -require="$req"
  done
  # Upstream's go.sum vouches for the dependencies; some are not in the public checksum database.
  DIR=$(go mod download -json "github.com/hatchet-dev/hatchet@v$V" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cat "$DIR/go.sum" >> go.sum; sort -u -o go.sum go.sum
  export GONOSUMDB=${GONOSUMDB:+$GONOSUMDB,}github.com/hatchet-dev/*
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "github.com/hatchet-dev/hatchet/cmd/hatchet-lite"\n\t_ "github.com/hatchet-dev/hatchet/cmd/hatchet-migrate"\n\t_ "github.com/hatchet-dev/hatchet/cmd/hatchet-admin"\n)\n' > tools.go
  GOFLAGS=-mod=mod go mod download all >/dev/null 2>&1 || true
  # main.Version feeds GetVersion: without it clients see a stale version and fall back to a
  # legacy protocol.
  for cmd in hatchet-lite hatchet-migrate hatchet-admin; do
    log "  go build $cmd"
    GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X main.Version=v$V" -o "$OUT/$cmd" "github.com/hatchet-dev/hatchet/cmd/$cmd"
  done
  touch "$OUT/.done"
fi
echo "$OUT"
