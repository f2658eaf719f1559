# Image-building helpers shared by hack/build-images.sh and hack/build-kind.sh. Sourced after lib.sh;
# the caller sets SUITE, ROOTFS_REVISION, UID_GID, IMAGES_CACHE, CREATED and VENV.

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  # deb822 (URIs:) or one-line (deb URL suite ...) sources; the first plain Debian archive wins.
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | sed -nE 's/^URIs:[[:space:]]*([^[:space:]]+).*/\1/p; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' \
      | grep -v -- '-security' | head -n1)
  [ -n "$m" ] || { echo "no Debian mirror found in apt sources; set DEBIAN_MIRROR" >&2; exit 1; }
  echo "$m"
}

# ---- 1. base root filesystems (cached by package list) --------------------------------------------
rootfs_key() { printf '%s\n' "$SUITE" "$1" "$ROOTFS_REVISION" "$UID_GID" | sha256sum | cut -c1-16; }
build_rootfs() {  # build_rootfs DIR PACKAGES
  local base=$1 packages=$2
  [ -f "$base/.done" ] && return 0
  local tmp=$base.tmp
  rm -rf "$tmp"
  log "debootstrap $SUITE ($packages) from $(mirror)"
  debootstrap --variant=minbase --include="$packages" --components=main "$SUITE" "$tmp/rootfs" "$(mirror)" \
    >"$base.debootstrap.log" 2>&1 \
    || { tail -n 30 "$base.debootstrap.log" >&2; exit 1; }
  local r=$tmp/rootfs
  # Package manager state and caches are not needed at run time; documentation neither.
  rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/log/* "$r"/var/cache/debconf/*-old \
    "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
    "$r"/usr/share/lintian "$r"/tmp/* "$r"/root/.cache
  : >"$r/etc/machine-id"
  echo "hatchet:x:$UID_GID:$UID_GID:hatchet:/nonexistent:/usr/sbin/nologin" >>"$r/etc/passwd"
  echo "hatchet:x:$UID_GID:" >>"$r/etc/group"
  echo "hatchet:!:0:0:99999:7:::" >>"$r/etc/shadow"
  chmod 1777 "$r/tmp"
  touch "$tmp/.done"
  mv "$tmp" "$base"
}
rootfs() {  # rootfs PACKAGES: the cached root filesystem for a package list (built on first use)
  local key base
  key=$(rootfs_key "$1")
  base=$IMAGES_CACHE/rootfs-$SUITE-$key
  mkdir -p "$CACHE_DIR/locks"
  (
    flock 9
    build_rootfs "$base" "$1"
  ) 9>"$CACHE_DIR/locks/images-rootfs-$key.lock" >&2
  echo "$base"
}
# oci_archive WORK ROOTFS REF TAR HISTORY USER PATH ENTRY_JSON CMD_JSON [umoci config flag...]:
# an image of the root filesystem ROOTFS (moved, not copied), written to TAR as a `docker save` style
# archive named REF (hack/image-archive.py says why). Prints "REF TAR CONFIG_DIGEST".
oci_archive() {
  local work=$1 r=$2 ref=$3 tar=$4 history=$5 user=$6 path=$7 entry=$8 cmd=$9
  shift 9
  local layout=$work/oci bundle=$work/bundle tag=build
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$bundle" >/dev/null
  rm -rf "$bundle/rootfs" && mv "$r" "$bundle/rootfs"
  umoci repack --image "$layout:$tag" --history.created "$CREATED" --history.author hatchet-kube \
    --history.created_by "$history" "$bundle"
  umoci config --image "$layout:$tag" --no-history --created "$CREATED" --author hatchet-kube \
    --architecture amd64 --os linux --config.user "$user" --config.workingdir / --config.env "PATH=$path" \
    "$@" --clear=config.entrypoint --clear=config.cmd
  # umoci takes the entrypoint and cmd one argument per flag.
  local args=() a
  while IFS= read -r a; do args+=(--config.entrypoint "$a"); done < <(jq -r '.[]' <<<"$entry")
  while IFS= read -r a; do args+=(--config.cmd "$a"); done < <(jq -r '.[]' <<<"$cmd")
  [ ${#args[@]} -eq 0 ] || umoci config --image "$layout:$tag" --no-history "${args[@]}"
  umoci gc --layout "$layout"
  "$VENV/bin/python" "$HACK_DIR/image-archive.py" "$layout" "$tag" "$ref" "$tar"
}
