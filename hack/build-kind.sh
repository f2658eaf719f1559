#!/usr/bin/env bash
# Build everything the kind e2e tier needs, with no registry and no Docker build:
#
#   - kind itself, from its Go module (KIND_VERSION);
#   - Docker's daemon and CLI, unpacked from Debian's docker.io package into the cache and never installed:
#     no docker service is registered or started on the machine (tests/harness/kind.py runs a private
#     daemon only when no Docker daemon answers);
#   - kubeadm (hack/build-kube.sh) and CoreDNS, from their Go modules, at the versions kubeadm asks for;
#   - the images a kind node needs at boot, named as kubeadm names them (`kubeadm config images list`):
#     kube-apiserver, kube-controller-manager, kube-scheduler and etcd (each its static binary alone),
#     kube-proxy (on Debian with iptables and conntrack), CoreDNS and pause;
#   - a kind node root filesystem: Debian with systemd, containerd, runc and the CNI plugins, the
#     kubelet, kubeadm and kubectl of the pinned release, the files in images/kind-node, and the images
#     above in /kind/images (imported into the node's containerd at boot: nothing is ever pulled).
#
# What kind's own node image has and this one does not: kindnetd and the local-path provisioner (their
# images cannot be pulled here): pods get a bridge network on their node (single-node clusters only)
# and the default StorageClass provisions nothing (images/kind-node says more).
#
# The node root filesystem is written as a tar archive that `docker import` turns into the node image
# (tests/harness/kind.py does that with the entrypoint, environment and stop signal kind expects).
# Everything is cached under $CACHE_DIR, keyed by its inputs.
#
# Usage: hack/build-kind.sh
# Prints: <kind binary> <node root filesystem tar> <node image reference> <unpacked docker.io root>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=bookworm
ROOTFS_REVISION=1
UID_GID=65532
VENV=${VENV:-$ROOT_DIR/.venv}
IMAGES_CACHE=$CACHE_DIR/images
KIND_CACHE=$CACHE_DIR/kind
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
export SOURCE_DATE_EPOCH
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
NODE_PACKAGES=systemd,systemd-sysv,containerd,runc,containernetworking-plugins,iptables,iproute2,conntrack,ethtool,util-linux,mount,kmod,ca-certificates,procps,socat
PROXY_PACKAGES=iptables,conntrack,ca-certificates
source "$HACK_DIR/lib-image.sh"

[ "$(id -u)" = 0 ] || { echo "build-kind.sh needs root (debootstrap, file ownership)" >&2; exit 1; }
apt_ensure debootstrap debootstrap
apt_ensure umoci umoci
apt_ensure jq jq
apt_ensure catatonit catatonit
mkdir -p "$KIND_CACHE" "$CACHE_DIR/locks"
exec 8>"$CACHE_DIR/locks/kind.lock"
flock 8

# ---- binaries -----------------------------------------------------------------------------------
KUBE_BIN=$(bash "$HACK_DIR/build-kube.sh" | tail -n 1)
KIND_BIN=$KIND_CACHE/v$KIND_VERSION/bin
if [ ! -x "$KIND_BIN/kind" ]; then
  log "building kind v$KIND_VERSION"
  mkdir -p "$KIND_BIN"
  GOBIN=$KIND_BIN go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@v$KIND_VERSION"
fi
# dockerd's own runtime needs: containerd and runc (ensure-deps.sh), device-mapper's library.
DOCKER_ROOT=$CACHE_DIR/docker/pkg
if [ ! -x "$DOCKER_ROOT/usr/sbin/dockerd" ]; then
  log "unpacking Debian's docker.io"
  apt_ensure containerd containerd
  apt_ensure runc runc
  [ -e /lib/x86_64-linux-gnu/libdevmapper.so.1.02.1 ] || apt_install libdevmapper1.02.1
  dl=$(mktemp -d)
  # The package lists may be older than the archive's current docker.io: refresh them once if so.
  (cd "$dl" && { apt-get download -qq docker.io >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download -qq docker.io >/dev/null; }; })
  rm -rf "$DOCKER_ROOT.tmp" && mkdir -p "$DOCKER_ROOT.tmp" && dpkg-deb -x "$dl"/docker.io_*.deb "$DOCKER_ROOT.tmp"
  rm -rf "$dl" "$DOCKER_ROOT" && mv "$DOCKER_ROOT.tmp" "$DOCKER_ROOT"
fi
mapfile -t REFS < <("$KUBE_BIN/kubeadm" config images list --kubernetes-version "v$KUBERNETES_VERSION")
ref_of() { printf '%s\n' "${REFS[@]}" | grep -E "/$1:" ; }
COREDNS_REF=$(ref_of coredns); ETCD_REF=$(ref_of etcd); PAUSE_REF=$(ref_of pause)
COREDNS_VERSION=${COREDNS_REF##*:}
COREDNS_BIN=$CACHE_DIR/coredns/$COREDNS_VERSION/bin
if [ ! -x "$COREDNS_BIN/coredns" ]; then
  log "building CoreDNS $COREDNS_VERSION (the version kubeadm v$KUBERNETES_VERSION deploys)"
  mkdir -p "$COREDNS_BIN"
  GOBIN=$COREDNS_BIN go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
fi
# kubeadm names etcd <version>-<image revision>; the etcd built with Kubernetes must be that version.
ETCD_BUILT=$("$KUBE_BIN/etcd" --version | awk '/^etcd Version:/{print $3}')
[ "${ETCD_REF##*:}" = "$ETCD_BUILT-0" ] || {
  echo "kubeadm v$KUBERNETES_VERSION expects $ETCD_REF, but the etcd built with it is $ETCD_BUILT" >&2; exit 1; }

# ---- the node root filesystem (cached by every input) --------------------------------------------
KEY=$( (cd "$ROOT_DIR" && sha256sum hack/build-kind.sh hack/lib-image.sh hack/image-archive.py images/kind-node/*
  printf '%s\n' "$KIND_VERSION" "$KUBERNETES_VERSION" "${REFS[@]}" "$(rootfs_key "$NODE_PACKAGES")" \
    "$(rootfs_key "$PROXY_PACKAGES")") | sha256sum | cut -c1-16)
NODE_TAR=$KIND_CACHE/node-$KEY.tar
NODE_REF=hatchet-kube/kind-node:v$KUBERNETES_VERSION-$KEY
if [ ! -f "$NODE_TAR" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/hatchet-kind.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  node=$WORK/node
  log "kind node $NODE_REF: Debian $SUITE ($NODE_PACKAGES)"
  cp -a "$(rootfs "$NODE_PACKAGES")/rootfs" "$node"
  mkdir -p "$node/kind/images" "$node/kind/bin" "$node/kind/manifests"

  component() {  # component NAME REF ROOTFS ENTRY_JSON: one preloaded image, archived into the node
    local name=$1 ref=$2 r=$3 entry=$4
    mkdir -p "$WORK/$name"
    oci_archive "$WORK/$name" "$r" "$ref" "$node/kind/images/$name.tar" "hack/build-kind.sh: $name" \
      0:0 /usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$entry" '[]' >/dev/null
  }
  static_rootfs() {  # static_rootfs DIR BINARY...: a root filesystem holding static binaries alone
    local r=$1; shift
    install -d -m 0755 "$r/usr/local/bin" "$r/etc"
    install -d -m 1777 "$r/tmp"
    install -m 0755 "$@" "$r/usr/local/bin/"
    echo "root:x:0:0:root:/:/nonexistent" >"$r/etc/passwd"
  }
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    static_rootfs "$WORK/$c-rootfs" "$KUBE_BIN/$c"
    component "$c" "$(ref_of "$c")" "$WORK/$c-rootfs" "[\"/usr/local/bin/$c\"]"
  done
  static_rootfs "$WORK/etcd-rootfs" "$KUBE_BIN/etcd"
  component etcd "$ETCD_REF" "$WORK/etcd-rootfs" '["/usr/local/bin/etcd"]'
  static_rootfs "$WORK/coredns-rootfs" "$COREDNS_BIN/coredns"
  ln -s usr/local/bin/coredns "$WORK/coredns-rootfs/coredns"  # the path CoreDNS's own image uses
  component coredns "$COREDNS_REF" "$WORK/coredns-rootfs" '["/coredns"]'
  static_rootfs "$WORK/pause-rootfs" /usr/bin/catatonit
  component pause "$PAUSE_REF" "$WORK/pause-rootfs" '["/usr/local/bin/catatonit", "-P"]'
  cp -a "$(rootfs "$PROXY_PACKAGES")/rootfs" "$WORK/kube-proxy-rootfs"
  install -m 0755 "$KUBE_BIN/kube-proxy" "$WORK/kube-proxy-rootfs/usr/local/bin/"
  component kube-proxy "$(ref_of kube-proxy)" "$WORK/kube-proxy-rootfs" '["/usr/local/bin/kube-proxy"]'

  install -m 0755 "$KUBE_BIN/kubelet" "$KUBE_BIN/kubeadm" "$KUBE_BIN/kubectl" "$node/usr/bin/"
  src=$ROOT_DIR/images/kind-node
  install -m 0755 "$src/entrypoint" "$node/usr/local/bin/entrypoint"
  install -m 0755 "$src/write-cni-config" "$node/kind/bin/"
  install -m 0644 "$src/manifests-default-cni.yaml" "$node/kind/manifests/default-cni.yaml"
  install -m 0644 "$src/manifests-default-storage.yaml" "$node/kind/manifests/default-storage.yaml"
  echo "v$KUBERNETES_VERSION" >"$node/kind/version"
  install -d "$node/etc/containerd" "$node/etc/cni/net.d" "$node/etc/kubernetes/manifests"
  sed "s|registry.k8s.io/pause:PAUSE_VERSION|$PAUSE_REF|" "$src/containerd.toml" >"$node/etc/containerd/config.toml"
  sys=$node/etc/systemd/system
  install -m 0644 "$src"/*.service "$src/kubelet.slice" "$sys/"
  # Boot only what a node runs: no gettys, udev, timers or the units that fight a container's /sys.
  rm -f "$sys"/*.wants/* "$node"/lib/systemd/system/multi-user.target.wants/* \
    "$node"/lib/systemd/system/sockets.target.wants/*udev* "$node"/lib/systemd/system/sysinit.target.wants/systemd-udev*
  mkdir -p "$sys/multi-user.target.wants"
  for unit in kubelet.service hatchet-kind-images.service hatchet-kind-cni.service; do
    ln -sf "/etc/systemd/system/$unit" "$sys/multi-user.target.wants/$unit"
  done
  ln -sf /lib/systemd/system/containerd.service "$sys/multi-user.target.wants/containerd.service"
  for unit in systemd-binfmt.service getty.target console-getty.service; do ln -sf /dev/null "$sys/$unit"; done
  echo "ReadKMsg=no" >>"$node/etc/systemd/journald.conf"
  : >"$node/etc/machine-id"
  log "writing the node root filesystem ($(du -sh "$node" | cut -f1))"
  tar -C "$node" --numeric-owner --xattrs -cf "$NODE_TAR.tmp" .
  mv "$NODE_TAR.tmp" "$NODE_TAR"
  # Older node archives are of older inputs: keep the cache to the current one.
  find "$KIND_CACHE" -maxdepth 1 -name 'node-*.tar' ! -name "node-$KEY.tar" -delete
fi
echo "$KIND_BIN/kind $NODE_TAR $NODE_REF $DOCKER_ROOT"
