#!/usr/bin/env bash
# Build the operator and example-worker images WITHOUT Docker and without pulling any image:
#
#   1. a Debian bookworm root filesystem from Debian's own packages (debootstrap), with python3 and
#      ca-certificates, cached by its package list under $CACHE_DIR/images (built once);
#   2. the project's wheel and its dependencies (from the Python package index, cached by the
#      dependency list) installed into /opt/hatchet/site, byte-compiled by the image's own python;
#   3. a non-root user (uid/gid 65532), file times clamped to SOURCE_DATE_EPOCH;
#   4. an OCI image (umoci) written as a `docker save` style tar archive, which
#      `ctr -n k8s.io images import`, `docker load` and `kind load image-archive` accept and name
#      <prefix>/<name>:<tag> the way a pull would.
#
# The result is the same image that images/*/Dockerfile builds from a Debian bookworm base.
#
# A third image, hatchet-engine (a single-container Hatchet engine on PostgreSQL for the e2e suite; not
# for production), is built from the engine binaries hack/build-hatchet.sh makes, on a root filesystem
# with Debian's postgresql-15.
#
# A test-only one, official-worker, runs tests/e2e/apps/official_worker.py on the official hatchet-sdk (the
# version pinned in pyproject's dev extra) instead of this project's SDK: the e2e proof that the
# operator's official-sdk probe profile fits that SDK. Never shipped.
#
# A fourth, pause, is the pod sandbox image of the real-node e2e cluster: Debian's static catatonit in
# pause mode, nothing else (containerd's CRI plugin needs a sandbox image and nothing can be pulled).
#
# Usage: hack/build-images.sh [operator] [example-worker] [hatchet-engine] [pause] [official-worker]
#        (default: the first two)
# Env:   OUT_DIR (default: out/images), SOURCE_DATE_EPOCH (default: time of the last commit to INPUTS),
#        IMAGE_PREFIX (default: hatchet-kube), IMAGE_TAG (default: the project version),
#        DEBIAN_MIRROR (default: the first Debian mirror in this machine's apt sources).
# Prints one line per image: <reference> <archive path> <image ID (config digest)>.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=bookworm
# Bump to rebuild the cached root filesystem even though the package list is unchanged.
ROOTFS_REVISION=1
PACKAGES=python3,ca-certificates
ENGINE_PACKAGES=postgresql-15,ca-certificates
IMAGE_PREFIX=${IMAGE_PREFIX:-hatchet-kube}
UID_GID=65532
VENV=${VENV:-$ROOT_DIR/.venv}
OUT_DIR=${OUT_DIR:-$ROOT_DIR/out/images}
IMAGES_CACHE=$CACHE_DIR/images
VERSION=$("$VENV/bin/python" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' \
  "$ROOT_DIR/pyproject.toml")
IMAGE_TAG=${IMAGE_TAG:-$VERSION}
# The files an image is made from; their last commit dates the image (so unrelated commits do not change it).
INPUTS=(pyproject.toml README.md sdk operator examples/worker images hack/build-images.sh hack/image-archive.py
  hack/versions.env)
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT_DIR" log -1 --format=%ct -- "${INPUTS[@]}" 2>/dev/null || true)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
export SOURCE_DATE_EPOCH
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(operator example-worker)
for t in "${targets[@]}"; do
  case $t in
    operator|example-worker|hatchet-engine|pause|official-worker) ;;
    *) echo "unknown image: $t (operator, example-worker, hatchet-engine, pause, official-worker)" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "build-images.sh needs root (debootstrap, chroot, file ownership)" >&2; exit 1; }
apt_ensure debootstrap debootstrap
apt_ensure umoci umoci
mkdir -p "$IMAGES_CACHE" "$OUT_DIR"
# One build at a time per output folder (parallel test sessions share it).
exec 8>"$OUT_DIR/.lock"
flock 8

source "$HACK_DIR/lib-image.sh"
ROOTFS_KEY="$(rootfs_key "$PACKAGES") $(rootfs_key "$ENGINE_PACKAGES")"

# ---- 2. wheels: the project's own (built now) and its dependencies (cached) -------------------------
# Every input of the images, hashed: when an archive was built from the same inputs it is reused.
INPUT_KEY=$( (cd "$ROOT_DIR" && find "${INPUTS[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
  ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum
  echo "$ROOTFS_KEY $SOURCE_DATE_EPOCH $IMAGE_PREFIX $IMAGE_TAG") | sha256sum | cut -c1-32)
# The test-only official-worker image also depends on its app (kept out of INPUTS: editing a test app
# must not rebuild the shipped images).
OFFICIAL_APP=$ROOT_DIR/tests/e2e/apps/official_worker.py
image_key() {
  if [ "$1" = official-worker ]; then echo "$INPUT_KEY-$(sha256sum <"$OFFICIAL_APP" | cut -c1-16)"; else echo "$INPUT_KEY"; fi
}
pending=()
for t in "${targets[@]}"; do
  if [ -f "$OUT_DIR/$t.tar" ] && [ "$(cat "$OUT_DIR/$t.key" 2>/dev/null)" = "$(image_key "$t")" ]; then
    log "image $IMAGE_PREFIX/$t:$IMAGE_TAG is up to date"
    echo "$IMAGE_PREFIX/$t:$IMAGE_TAG $OUT_DIR/$t.tar $(cat "$OUT_DIR/$t.digest")"
  else
    pending+=("$t")
  fi
done
[ ${#pending[@]} -gt 0 ] || exit 0

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hatchet-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log "building the hatchet-kube $VERSION wheel"
# From a copy of the sources, so the build leaves nothing behind in the working tree.
mkdir -p "$WORK/src"
cp -a "$ROOT_DIR/pyproject.toml" "$ROOT_DIR/README.md" "$ROOT_DIR/sdk" "$ROOT_DIR/operator" "$WORK/src/"
find "$WORK/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
"$VENV/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$WORK/wheel" "$WORK/src" \
  >"$WORK/wheel.log" 2>&1 || { cat "$WORK/wheel.log" >&2; exit 1; }
WHEEL=$(ls "$WORK"/wheel/hatchet_kube-*.whl)
DEPS_KEY=$("$VENV/bin/python" - "$ROOT_DIR/pyproject.toml" <<'EOF' | sha256sum | cut -c1-16
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(sorted(p["dependencies"]), sorted(p["optional-dependencies"]["operator"]), sys.version_info[:2])
EOF
)
DEPS=$IMAGES_CACHE/wheels-$DEPS_KEY
if [ ! -f "$DEPS/.done" ]; then
  log "downloading dependency wheels"
  rm -rf "$DEPS.tmp"
  "$VENV/bin/python" -m pip download --quiet --only-binary=:all: -d "$DEPS.tmp" "$WHEEL[operator]" >/dev/null
  rm -f "$DEPS".tmp/hatchet_kube-*.whl
  touch "$DEPS.tmp/.done"
  rm -rf "$DEPS" && mv "$DEPS.tmp" "$DEPS"
fi

# ---- 3 + 4. one image ---------------------------------------------------------------------------
install_python_app() {  # install_python_app ROOTFS EXTRA: the wheel (+ extra) into /opt/hatchet/site
  local r=$1 extra=$2
  "$VENV/bin/python" -m pip install --quiet --no-index --find-links "$DEPS" --no-compile --no-warn-script-location --no-warn-conflicts \
    --target "$r/opt/hatchet/site" "$WHEEL$extra" >/dev/null
  # Console scripts that pip wrote point at the build machine's interpreter: replace them.
  rm -rf "$r/opt/hatchet/site/bin"
  # direct_url.json records the temporary wheel path: it would make every build differ.
  rm -f "$r"/opt/hatchet/site/*.dist-info/direct_url.json
  sed -i '/direct_url\.json/d' "$r"/opt/hatchet/site/*.dist-info/RECORD
  echo /opt/hatchet/site >"$r/usr/lib/python3/dist-packages/hatchet-kube.pth"
}

# The official SDK and its dependencies (test-only image), cached by the pinned requirement.
OFFICIAL_SDK=$(grep -o '"hatchet-sdk==[^"]*"' "$ROOT_DIR/pyproject.toml" | tr -d '"')
official_deps() {
  OFFICIAL_DEPS=$IMAGES_CACHE/wheels-official-$(echo "$OFFICIAL_SDK" | sha256sum | cut -c1-16)
  if [ ! -f "$OFFICIAL_DEPS/.done" ]; then
    log "downloading $OFFICIAL_SDK and its dependency wheels"
    rm -rf "$OFFICIAL_DEPS.tmp"
    "$VENV/bin/python" -m pip download --quiet --only-binary=:all: -d "$OFFICIAL_DEPS.tmp" "$OFFICIAL_SDK" >/dev/null
    touch "$OFFICIAL_DEPS.tmp/.done"
    rm -rf "$OFFICIAL_DEPS" && mv "$OFFICIAL_DEPS.tmp" "$OFFICIAL_DEPS"
  fi
}

build_image() {
  local name=$1 ref="$IMAGE_PREFIX/$1:$IMAGE_TAG" packages=$PACKAGES
  [ "$name" = hatchet-engine ] && packages=$ENGINE_PACKAGES
  local dir=$WORK/$name r=$WORK/$name/rootfs base env=() ports=() path=/usr/local/bin:/usr/bin:/bin
  log "image $ref"
  mkdir -p "$dir"
  if [ "$name" = pause ]; then
    packages=catatonit
    install -d -m 0755 "$r"
  else
    base=$(rootfs "$packages")
    cp -a "$base/rootfs" "$r"
  fi
  case $name in
    pause)
      # Static: the image holds this one file. -P: pause mode (sleep until signalled).
      install -m 0755 /usr/bin/catatonit "$r/catatonit"
      entry='["/catatonit", "-P"]'; cmd='[]'; path=/
      ;;
    operator)
      install_python_app "$r" "[operator]"
      install -m 0755 "$ROOT_DIR/images/operator/hatchet-operator" "$r/usr/local/bin/hatchet-operator"
      entry='["/usr/local/bin/hatchet-operator"]'; cmd='["run"]'
      env=(--config.env PYTHONDONTWRITEBYTECODE=1 --config.env PYTHONUNBUFFERED=1)
      ;;
    official-worker)
      official_deps
      "$VENV/bin/python" -m pip install --quiet --no-index --find-links "$OFFICIAL_DEPS" --no-compile \
        --no-warn-script-location --no-warn-conflicts --target "$r/opt/hatchet/site" "$OFFICIAL_SDK" >/dev/null
      rm -rf "$r/opt/hatchet/site/bin"
      echo /opt/hatchet/site >"$r/usr/lib/python3/dist-packages/hatchet-sdk.pth"
      install -d -m 0755 "$r/app"
      install -m 0644 "$OFFICIAL_APP" "$r/app/worker.py"
      entry='["/usr/bin/python3", "/app/worker.py"]'; cmd='[]'; ports=(--config.exposedports 8001/tcp)
      env=(--config.env PYTHONDONTWRITEBYTECODE=1 --config.env PYTHONUNBUFFERED=1)
      ;;
    example-worker)
      install_python_app "$r" ""
      install -d -m 0755 "$r/app"
      install -m 0644 "$ROOT_DIR/examples/worker/worker.py" "$r/app/worker.py"
      entry='["/usr/bin/python3", "/app/worker.py"]'; cmd='[]'; ports=(--config.exposedports 8001/tcp)
      env=(--config.env PYTHONDONTWRITEBYTECODE=1 --config.env PYTHONUNBUFFERED=1)
      ;;
    hatchet-engine)
      local bin pgbin
      bin=$(bash "$HACK_DIR/build-hatchet.sh" | tail -n 1)
      pgbin=$(dirname "$(ls "$r"/usr/lib/postgresql/*/bin/postgres)")
      install -m 0755 "$bin/hatchet-lite" "$bin/hatchet-migrate" "$bin/hatchet-admin" \
        "$ROOT_DIR/images/hatchet-engine/hatchet-engine" "$r/usr/local/bin/"
      install -d -m 0755 -o "$UID_GID" -g "$UID_GID" "$r/var/lib/hatchet"
      entry='["/usr/local/bin/hatchet-engine"]'; cmd='[]'
      path=/usr/local/bin:${pgbin#"$r"}:/usr/bin:/bin
      env=(--config.env HATCHET_DATA=/var/lib/hatchet)
      ports=(--config.exposedports 7070/tcp --config.exposedports 8888/tcp --config.exposedports 8733/tcp)
      ;;
  esac
  if [ -d "$r/opt/hatchet/site" ]; then
    # Byte-compile with the image's own interpreter; hash-based .pyc files do not depend on file times.
    chroot "$r" /usr/bin/python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      /opt/hatchet/site $([ -d "$r/app" ] && echo /app) >/dev/null
  fi
  find "$r" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"

  local line
  line=$(oci_archive "$dir" "$r" "$ref" "$OUT_DIR/$name.tar" \
    "hack/build-images.sh: Debian $SUITE ($packages) + $name $IMAGE_TAG" "$UID_GID:$UID_GID" "$path" "$entry" "$cmd" \
    "${env[@]}" --config.label "org.opencontainers.image.title=$IMAGE_PREFIX/$name" \
    --config.label "org.opencontainers.image.version=$IMAGE_TAG" \
    --config.label "org.opencontainers.image.created=$CREATED" "${ports[@]}")
  echo "${line##* }" >"$OUT_DIR/$name.digest"
  image_key "$name" >"$OUT_DIR/$name.key"
  echo "$line"
}

apt_ensure jq jq
for t in "${pending[@]}"; do
  [ "$t" != pause ] || [ -x /usr/bin/catatonit ] || apt_install catatonit
  case $t in
    operator|example-worker|hatchet-engine|pause|official-worker) build_image "$t" ;;
  esac
done
