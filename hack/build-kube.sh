#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy and kubeadm from the
# k8s.io/kubernetes Go module, plus kwok, into $CACHE_DIR/kube/v$KUBERNETES_VERSION/bin.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the k8s.io/* staging modules with
# ./staging paths. A dedicated throwaway module pins each staging module to its published
# v0.<minor>.<patch> tag instead, and keeps upstream's go/godebug lines so Go's version selection
# keeps the exact dependency versions Kubernetes pins.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
K=$KUBERNETES_VERSION
MINOR=$(cut -d. -f2 <<<"$K"); PATCH=$(cut -d. -f3 <<<"$K")
BASE=$CACHE_DIR/kube/v$K
OUT=$BASE/bin
exec 9>"$CACHE_DIR/kube-v$K.lock"; flock 9
if [ ! -f "$OUT/.done" ]; then
  log "building Kubernetes v$K control plane + etcd (first run only; takes minutes)"
  MOD=$BASE/mod; mkdir -p "$MOD" "$OUT"; cd "$MOD"
  UPSTREAM=$(go mod download -json "k8s.io/kubernetes@v$K" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  [ -f go.mod ] || go mod init hatchet-k8s.local/kubebuild >/dev/null 2>&1
  GOLINE=$(awk '$1=="go"{print $2; exit}' "$UPSTREAM")
  go mod edit -go="$GOLINE"
  # godebug block/lines are copied verbatim.
  awk '/^godebug \(/{b=1} b{print} /^\)/{if(b){b=0}} /^godebug [^(]/{print}' "$UPSTREAM" >> go.mod || true
  grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$UPSTREAM" | awk '{print $1}' | while read -r m; do
    go mod edit -replace="$m=$m@v0.$MINOR.$PATCH"
  done
  go mod edit -require="k8s.io/kubernetes@v$K"
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubeadm"
)
GO
  go mod tidy -e >/dev/null 2>&1 || true
  go get "k8s.io/kubernetes@v$K" >/dev/null
  LD="-s -w -X k8s.io/component-base/version.gitVersion=v$K -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR -X k8s.io/client-go/pkg/version.gitVersion=v$K"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do
    log "  go build $cmd"
    go build -trimpath -ldflags "$LD" -o "$OUT/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
  log "  go build etcd"
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
  touch "$OUT/.done"
fi
# Built later than the rest, so an existing cache entry gets them too: kube-proxy (real-node e2e
# cluster) and kubeadm (the kind node image, hack/build-kind.sh).
for cmd in kube-proxy kubeadm; do
  [ -x "$OUT/$cmd" ] && continue
  log "  go build $cmd"
  LD="-s -w -X k8s.io/component-base/version.gitVersion=v$K -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR -X k8s.io/client-go/pkg/version.gitVersion=v$K"
  cd "$BASE/mod"
  # A module made before the command was added lacks its imports and go.sum entries.
  if ! grep -q "cmd/$cmd\"" tools.go; then
    sed -i "s|^\t_ \"k8s.io/kubernetes/cmd/kubelet\"\$|&\n\t_ \"k8s.io/kubernetes/cmd/$cmd\"|" tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    go get "k8s.io/kubernetes@v$K" >/dev/null
  fi
  go build -trimpath -ldflags "$LD" -o "$OUT/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  cd - >/dev/null
  mv "$OUT/$cmd.tmp" "$OUT/$cmd"
done
KW=$CACHE_DIR/kwok/v$KWOK_VERSION
if [ ! -f "$KW/bin/.done" ]; then
  log "building kwok v$KWOK_VERSION"
  mkdir -p "$KW/bin"
  GOBIN=$KW/bin go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  # The stage definitions (what kwok does to nodes and pods) ship in the module source.
  SRC=$(go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$KW/stages"; cp -r "$SRC"/kustomize/stage/. "$KW/stages/"; chmod -R u+w "$KW/stages"
  touch "$KW/bin/.done"
fi
HB=$CACHE_DIR/helm/v$HELM_VERSION/bin
if [ ! -f "$HB/.done" ]; then
  log "building helm v$HELM_VERSION"
  mkdir -p "$HB"
  GOBIN=$HB go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  touch "$HB/.done"
fi
echo "$OUT"
