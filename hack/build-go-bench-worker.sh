#!/usr/bin/env bash
# Build bench/sdk/go (the benchmark's worker on Hatchet's Go SDK, bench-only) against the engine's Go
# module at the pinned tag, reusing the module set hack/build-hatchet.sh resolved for the engine.
# Cached by the source's hash under $CACHE_DIR/hatchet/v$HATCHET_ENGINE_VERSION/bench-go-worker;
# prints the binary's path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
V=$HATCHET_ENGINE_VERSION
"$HACK_DIR/build-hatchet.sh" >/dev/null  # the engine's module directory, with its go.mod and go.sum
ENGINE_MOD=$CACHE_DIR/hatchet/v$V/mod
KEY=$(sha256sum "$ROOT_DIR/bench/sdk/go/main.go" | cut -c1-16)
BASE=$CACHE_DIR/hatchet/v$V/bench-go-worker
OUT=$BASE/$KEY/worker
mkdir -p "$BASE"
exec 9>"$BASE.lock"; flock 9
if [ ! -x "$OUT" ]; then
  log "building the Go SDK benchmark worker (engine module v$V)"
  MOD=$BASE/mod; rm -rf "$MOD"; mkdir -p "$MOD" "$(dirname "$OUT")"
  cp "$ENGINE_MOD/go.mod" "$ENGINE_MOD/go.sum" "$MOD/"
  mkdir -p "$MOD/benchworker" && cp "$ROOT_DIR/bench/sdk/go/main.go" "$MOD/benchworker/main.go"
  export GONOSUMDB=${GONOSUMDB:+$GONOSUMDB,}github.com/hatchet-dev/*
  (cd "$MOD" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$OUT.tmp" ./benchworker)
  mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
