#!/usr/bin/env bash
# Debian packages the harness needs (installed only when missing; idempotent).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql
  # The package starts a cluster of its own; the harness runs private ones instead.
  (service postgresql stop || true) >/dev/null 2>&1
fi
apt_ensure setpriv util-linux
apt_ensure flock util-linux
# containerd + runc run the project's locally built images in the image and real-node tests.
apt_ensure containerd containerd
apt_ensure runc runc
# The real-node e2e cluster: CNI plugins (bridge, host-local, loopback, portmap), iptables and conntrack
# for kube-proxy and the CNI plugins, catatonit as the pod sandbox ("pause") process.
[ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins
apt_ensure iptables iptables
apt_ensure conntrack conntrack
[ -x /usr/bin/catatonit ] || apt_install catatonit
# The Argo CD health check (charts/hatchet-operator/files/argocd-health.lua) is tested with a real Lua 5.1
# interpreter (Argo CD's gopher-lua has Lua 5.1 semantics) and a pure-Lua JSON library.
lua5.1 -e 'require "dkjson"' >/dev/null 2>&1 || apt_install lua5.1 lua-dkjson
