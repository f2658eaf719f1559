"""The images hack/build-images.sh builds (no Docker, no registry) run, as their non-root user.

Each archive is unpacked the way a container runtime would (its manifest's layers in order), then its
programs run inside it with chroot as uid 65532, on a read-only root filesystem with a tmpfs /tmp (what
the operator's pods get): the operator image answers --version and prints the same CRD as the source
tree; the example worker image registers at a real Hatchet engine and executes a triggered run.

Needs root plus debootstrap and umoci (hack/build-images.sh installs them with apt when missing);
skipped otherwise. The first build takes a few minutes (cached root filesystem and wheels afterwards);
unchanged inputs reuse the archives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.binaries import cache_dir
from harness.hatchet import HatchetEngine
from harness.proc import Proc, free_port
from hatchet_operator import crdgen

REPO = Path(__file__).resolve().parents[2]
UID = 65532
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


def _missing_tools() -> str | None:
    if os.geteuid() != 0:
        return "building and running the images needs root (debootstrap, chroot)"
    if not (shutil.which("debootstrap") or shutil.which("apt-get")):
        return "debootstrap is not installed and apt-get is not available to install it"
    if not (shutil.which("umoci") or shutil.which("apt-get")):
        return "umoci is not installed and apt-get is not available to install it"
    if not shutil.which("unshare"):
        return "unshare (util-linux) is missing"
    return None


pytestmark = pytest.mark.skipif(_missing_tools() is not None, reason=_missing_tools() or "")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build (or reuse) both archives into a private output folder; name -> archive."""
    # A stable folder outside the repository: unchanged inputs reuse the archives across sessions.
    out = cache_dir() / "images" / "test-out"
    cp = subprocess.run(["bash", str(REPO / "hack" / "build-images.sh")], capture_output=True, text=True,
                        timeout=1800, env={**os.environ, "OUT_DIR": str(out)})
    assert cp.returncode == 0, cp.stderr[-4000:]
    built = {}
    for line in cp.stdout.splitlines():
        ref, path, digest = line.split()
        assert digest.startswith("sha256:")
        built[ref.split("/")[-1].split(":")[0]] = Path(path)
    assert set(built) == {"operator", "example-worker"}
    return built


def unpack(archive: Path, dest: Path) -> dict[str, Any]:
    """Apply the image's layers in order into dest/rootfs; return the image config."""
    with tarfile.open(archive) as tar:
        [manifest] = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        rootfs = dest / "rootfs"
        rootfs.mkdir(parents=True)
        for layer in manifest["Layers"]:
            blob = tar.extractfile(layer)
            assert blob is not None
            with tarfile.open(fileobj=blob, mode="r|*") as lt:
                lt.extractall(rootfs, numeric_owner=True, filter="fully_trusted")
    return config  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def unpacked(
    images: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {}
    for name, archive in images.items():
        dest = tmp_path_factory.mktemp(name)
        config = unpack(archive, dest)
        out[name] = (dest / "rootfs", config)
    return out


def in_image(rootfs: Path, argv: list[str], volumes: dict[str, Path] | None = None) -> list[str]:
    """argv that runs a command inside rootfs as uid 65532, root filesystem read-only, /tmp a tmpfs,
    host directories bind-mounted writable at the given image paths (like a pod's volumes)."""
    binds = "".join(f'mount --bind "{src}" "$r{dst}"; ' for dst, src in (volumes or {}).items())
    script = (
        'set -e; r="$1"; shift; '
        'mount --bind "$r" "$r"; mount -o remount,bind,ro "$r"; '
        'mount -t tmpfs -o size=64m,mode=1777 tmpfs "$r/tmp"; '
        'mount -t proc proc "$r/proc"; mount --rbind /dev "$r/dev"; '
        f"{binds}"
        f'exec {CHROOT} --userspec={UID}:{UID} "$r" "$@"'
    )
    return ["unshare", "--mount", "--fork", "--", "sh", "-c", script, "sh", str(rootfs), *argv]


def run_in(rootfs: Path, *argv: str, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # The host's PATH finds unshare/mount/chroot; inside the image the program paths are absolute.
    return subprocess.run(in_image(rootfs, list(argv)), capture_output=True, text=True, timeout=timeout,
                          env={**(env or {}), "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")})


def test_images_are_non_root_with_the_expected_entrypoints(unpacked: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    op_root, op_cfg = unpacked["operator"]
    wk_root, wk_cfg = unpacked["example-worker"]
    assert op_cfg["config"]["User"] == wk_cfg["config"]["User"] == f"{UID}:{UID}"
    assert op_cfg["config"]["Entrypoint"] == ["/usr/local/bin/hatchet-operator"]
    assert op_cfg["config"]["Cmd"] == ["run"]
    assert wk_cfg["config"]["Entrypoint"] == ["/usr/bin/python3", "/app/worker.py"]
    assert "8001/tcp" in wk_cfg["config"]["ExposedPorts"]
    assert op_cfg["os"] == "linux" and op_cfg["architecture"] == "amd64"
    for root in (op_root, wk_root):
        passwd = (root / "etc" / "passwd").read_text()
        assert f"hatchet:x:{UID}:{UID}:" in passwd
        # Nothing in the image is writable by its user except /tmp (mounted over at run time anyway).
        writable = [p for p in (root / "opt", root / "usr") if p.stat().st_uid == UID]
        assert writable == []


def test_operator_image_runs_as_non_root(unpacked: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    rootfs, _ = unpacked["operator"]
    cp = run_in(rootfs, "/usr/local/bin/hatchet-operator", "--version")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == "hatchet-operator 0.1.0"
    who = run_in(rootfs, "/usr/bin/python3", "-c", "import os; print(os.getuid(), os.getgid())")
    assert who.stdout.split() == [str(UID), str(UID)]
    # The image holds the same operator as the source tree: it prints the committed CRD.
    crd = run_in(rootfs, "/usr/local/bin/hatchet-operator", "crd")
    assert crd.returncode == 0, crd.stderr
    assert crd.stdout == (REPO / "crds" / crdgen.CRD_FILE).read_text()
    # The root filesystem is read-only for it.
    touch = run_in(rootfs, "/usr/bin/python3", "-c", "open('/opt/x', 'w')")
    assert touch.returncode != 0 and "Read-only file system" in touch.stderr


def test_example_worker_image_is_sdk_only(unpacked: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    rootfs, _ = unpacked["example-worker"]
    ok = run_in(rootfs, "/usr/bin/python3", "-c", "import hatchet_worker, grpc, pydantic; print('ok')")
    assert ok.returncode == 0 and ok.stdout.strip() == "ok", ok.stderr
    # The operator's dependencies stay out of worker images.
    no_kopf = run_in(rootfs, "/usr/bin/python3", "-c", "import kopf")
    assert no_kopf.returncode != 0 and "No module named 'kopf'" in no_kopf.stderr


@pytest.fixture
def image_worker(unpacked: dict[str, tuple[Path, dict[str, Any]]], hatchet: HatchetEngine,
                 tmp_path: Path) -> Iterator[tuple[Proc, dict[str, str]]]:
    rootfs, _ = unpacked["example-worker"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        **hatchet.client_env(),
        "HATCHET_CLIENT_WORKER_NAME": f"image-worker-{os.getpid()}",
        # A namespace of its own: only this worker registers these workflows, so only it can run them.
        "HATCHET_CLIENT_NAMESPACE": f"chroot{os.getpid()}_",
        "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED": "true",
        "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT": str(free_port()),
        "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS": "127.0.0.1",
    }
    proc = Proc("image-worker", in_image(rootfs, ["/usr/bin/python3", "/app/worker.py"]), tmp_path / "worker.log",
                env=env).start()
    try:
        yield proc, env
    finally:
        proc.stop()


def test_example_worker_image_executes_a_run(
    image_worker: tuple[Proc, dict[str, str]], hatchet: HatchetEngine, unpacked: dict[str, tuple[Path, dict[str, Any]]]
) -> None:
    proc, env = image_worker
    # The engine knows the worker by its namespaced name.
    hatchet.wait_for_worker(env["HATCHET_CLIENT_NAMESPACE"] + env["HATCHET_CLIENT_WORKER_NAME"], 90, [proc])
    rootfs, _ = unpacked["example-worker"]
    cp = run_in(rootfs, "/usr/bin/python3", "/app/worker.py", "trigger", "greet", '{"name": "Ada"}', env=env)
    assert cp.returncode == 0, cp.stderr[-2000:]
    assert json.loads(cp.stdout.strip().splitlines()[-1]) == {"message": "Hello, Ada!"}


# ---- the hatchet-engine test image (the e2e suite runs it in the cluster) --------------------------------


@pytest.fixture(scope="module")
def engine_image(images: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = images["operator"].parent
    cp = subprocess.run(["bash", str(REPO / "hack" / "build-images.sh"), "hatchet-engine"], capture_output=True,
                        text=True, timeout=3600, env={**os.environ, "OUT_DIR": str(out)})
    assert cp.returncode == 0, cp.stderr[-4000:]
    dest = tmp_path_factory.mktemp("hatchet-engine")
    config = unpack(out / "hatchet-engine.tar", dest)
    assert config["config"]["User"] == f"{UID}:{UID}"
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/hatchet-engine"]
    return dest / "rootfs"


def test_engine_image_serves_the_worker_image(
    engine_image: Path, unpacked: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    from harness.proc import wait_for

    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, UID, UID)
    ports = {k: str(free_port()) for k in ("SERVER_PORT", "SERVER_GRPC_PORT", "SERVER_HEALTHCHECK_PORT",
                                            "LITE_FRONTEND_PORT", "LITE_RUNTIME_PORT", "HATCHET_PG_PORT")}
    grpc = f"127.0.0.1:{ports['SERVER_GRPC_PORT']}"
    rest = f"http://127.0.0.1:{ports['SERVER_PORT']}"
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), **ports,
           "SERVER_GRPC_BIND_ADDRESS": "127.0.0.1", "SERVER_URL": rest, "SERVER_GRPC_BROADCAST_ADDRESS": grpc}
    argv = in_image(engine_image, ["/usr/local/bin/hatchet-engine"], volumes={"/var/lib/hatchet": data})
    # The image's PATH (postgres tools) applies inside: pass it through env for chroot.
    env["PATH"] = "/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/bin:/bin:" + env["PATH"]
    engine = Proc("engine-image", argv, tmp_path / "engine.log", env=env).start()
    try:
        def ready() -> bool:
            with urllib.request.urlopen(f"{rest}/api/ready", timeout=2) as r:
                return r.status == 200 and (data / "token").exists()

        wait_for(ready, 300, "the engine image to serve", procs=[engine])
        token = (data / "token").read_text().strip()
        assert token.count(".") == 2, "the client token is a JWT"
        assert (data / "pg" / "PG_VERSION").exists(), "PostgreSQL keeps its data in the volume"
        wk_root, _ = unpacked["example-worker"]
        client = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HATCHET_CLIENT_TOKEN": token,
                  "HATCHET_CLIENT_HOST_PORT": grpc, "HATCHET_CLIENT_SERVER_URL": rest,
                  "HATCHET_CLIENT_TLS_STRATEGY": "none", "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT": str(free_port()),
                  "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS": "127.0.0.1"}
        worker = Proc("engine-image-worker", in_image(wk_root, ["/usr/bin/python3", "/app/worker.py"]),
                      tmp_path / "worker.log", env=client).start()
        try:
            wait_for(lambda: "registered worker" in worker.log.read_text(errors="replace"), 120,
                     "the worker to register at the engine image", procs=[worker, engine])
            cp = run_in(wk_root, "/usr/bin/python3", "/app/worker.py", "trigger", "greet", '{"name": "engine"}',
                        env=client)
            assert cp.returncode == 0, cp.stderr[-2000:] + worker.tail() + engine.tail()
            assert json.loads(cp.stdout.strip().splitlines()[-1]) == {"message": "Hello, engine!"}
        finally:
            worker.stop()
    finally:
        engine.stop()


# ---- in a real container runtime (containerd + runc), the way the real-node cluster will run them ----

CONTAINERD_TOOLS = ("containerd", "ctr", "runc")


class Containerd:
    """A private containerd (its own root, state and socket; no CRI plugin) driven with ctr."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "containerd.sock"
        config = workdir / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{workdir / "root"}"\nstate = "{workdir / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.socket}"\n'
        )
        self.proc = Proc("containerd", ["containerd", "--config", str(config)], workdir / "containerd.log")

    def start(self) -> Containerd:
        from harness.proc import wait_for

        self.proc.start()
        wait_for(lambda: self.ctr("version", check=False).returncode == 0, 30, "containerd", procs=[self.proc])
        return self

    def ctr_argv(self, *args: str) -> list[str]:
        return ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args]

    def ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        cp = subprocess.run(self.ctr_argv(*args), capture_output=True, text=True, timeout=timeout)
        assert not check or cp.returncode == 0, cp.stderr[-2000:]
        return cp

    def stop(self) -> None:
        for task in self.ctr("tasks", "ls", "-q", check=False).stdout.split():
            self.ctr("tasks", "kill", "-s", "SIGKILL", task, check=False)
        self.proc.stop()
        subprocess.run(["umount", "-R", str(self.workdir / "root")], capture_output=True)


@pytest.fixture(scope="module")
def containerd(images: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    missing = [t for t in CONTAINERD_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"containerd tests need {', '.join(missing)} (Debian packages containerd and runc)")
    c = Containerd(tmp_path_factory.mktemp("containerd")).start()
    try:
        names = {}
        for name, archive in images.items():
            c.ctr("images", "import", str(archive))
            [ref] = [r for r in c.ctr("images", "ls", "-q").stdout.split() if r.endswith(f"/hatchet-kube/{name}:0.1.0")]
            names[name] = ref
        yield {"ctr": c, "refs": names}
    finally:
        c.stop()


def test_archives_import_under_the_names_pods_ask_for(containerd: dict[str, Any]) -> None:
    # A pod's `image: hatchet-kube/operator:0.1.0` is normalized to a fully qualified name before the
    # runtime looks it up; the import must produce that name, not a bare tag.
    for name, ref in containerd["refs"].items():
        domain, repo = ref.split("/", 1)
        assert "." in domain and repo == f"hatchet-kube/{name}:0.1.0"


def test_operator_container_runs_as_its_user(containerd: dict[str, Any]) -> None:
    c, ref = containerd["ctr"], containerd["refs"]["operator"]
    out = c.ctr("run", "--rm", "--read-only", ref, f"op-version-{os.getpid()}", "/usr/local/bin/hatchet-operator",
                "--version").stdout
    assert out.strip() == "hatchet-operator 0.1.0"
    uid = c.ctr("run", "--rm", "--read-only", ref, f"op-uid-{os.getpid()}", "/usr/bin/python3", "-c",
                "import os; print(os.getuid(), os.getgid())").stdout
    assert uid.split() == [str(UID), str(UID)]


def test_example_worker_container_executes_a_run(
    containerd: dict[str, Any], hatchet: HatchetEngine, tmp_path: Path, unpacked: dict[str, tuple[Path, dict[str, Any]]]
) -> None:
    c, ref = containerd["ctr"], containerd["refs"]["example-worker"]
    name = f"ctr-worker-{os.getpid()}"
    env = {**hatchet.client_env(), "HATCHET_CLIENT_WORKER_NAME": name, "HATCHET_CLIENT_NAMESPACE": f"ctr{os.getpid()}_",
           "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT": str(free_port()),
           "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS": "127.0.0.1"}
    env_args = [a for k, v in env.items() for a in ("--env", f"{k}={v}")]
    # Host networking: the engine listens on 127.0.0.1 only.
    proc = Proc("ctr-worker", c.ctr_argv("run", "--rm", "--net-host", *env_args, ref, name), tmp_path / "worker.log")
    proc.start()
    try:
        hatchet.wait_for_worker(env["HATCHET_CLIENT_NAMESPACE"] + name, 90, [proc])
        rootfs, _ = unpacked["example-worker"]
        cp = run_in(rootfs, "/usr/bin/python3", "/app/worker.py", "trigger", "greet", '{"name": "runc"}',
                    env={**env, "HATCHET_CLIENT_WORKER_NAME": "trigger"})
        assert cp.returncode == 0, cp.stderr[-2000:]
        assert json.loads(cp.stdout.strip().splitlines()[-1]) == {"message": "Hello, runc!"}
    finally:
        c.ctr("tasks", "kill", "-s", "SIGTERM", name, check=False)
        proc.stop()


def _dockerfile(name: str) -> dict[str, Any]:
    """The final stage's USER, ENTRYPOINT, CMD and base of images/<name>/Dockerfile."""
    text = (REPO / "images" / name / "Dockerfile").read_text()
    final = text.split("\nFROM ")[-1]
    out: dict[str, Any] = {"from": final.splitlines()[0].strip(), "args": re.findall(r"^ARG (\w+)", text, re.M)}
    for key in ("USER", "ENTRYPOINT", "CMD"):
        m = re.search(rf"^{key} (.+)$", final, re.M)
        out[key] = None if m is None else (json.loads(m.group(1)) if m.group(1).startswith("[") else m.group(1))
    return out


@pytest.mark.parametrize("name", ["operator", "example-worker"])
def test_dockerfile_builds_the_same_image(name: str, unpacked: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    """Docker cannot run here: check that the Dockerfile describes what build-images.sh built."""
    _, config = unpacked[name]
    df = _dockerfile(name)
    assert "BASE_IMAGE" in df["args"] and df["from"] == "${BASE_IMAGE}"
    assert df["USER"] == config["config"]["User"]
    assert df["ENTRYPOINT"] == config["config"]["Entrypoint"]
    assert (df["CMD"] or []) == (config["config"].get("Cmd") or [])
