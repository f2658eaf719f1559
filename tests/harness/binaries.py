"""Where the pinned, cached peer binaries live; builds them (once) through hack/build-*.sh."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HACK = ROOT / "hack"


@cache
def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (HACK / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def cache_dir() -> Path:
    env = os.environ.get("HATCHET_K8S_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hatchet-k8s"


def _build(script: str) -> Path:
    # The scripts are idempotent and lock against concurrent runs; they print the bin dir last.
    cp = subprocess.run(["bash", str(HACK / script)], capture_output=True, text=True, timeout=3600)
    if cp.returncode != 0:
        raise RuntimeError(f"hack/{script} failed:\n{cp.stderr[-4000:]}")
    return Path(cp.stdout.strip().splitlines()[-1])


@cache
def kube_bin() -> Path:
    d = cache_dir() / "kube" / f"v{versions()['KUBERNETES_VERSION']}" / "bin"
    return d if (d / ".done").exists() and _kwok_ready() and _helm_ready() else _build("build-kube.sh")


def _kwok_ready() -> bool:
    return (cache_dir() / "kwok" / f"v{versions()['KWOK_VERSION']}" / "bin" / ".done").exists()


def _helm_ready() -> bool:
    return (cache_dir() / "helm" / f"v{versions()['HELM_VERSION']}" / "bin" / ".done").exists()


def kwok() -> Path:
    kube_bin()
    return cache_dir() / "kwok" / f"v{versions()['KWOK_VERSION']}" / "bin" / "kwok"


def kwok_stages() -> Path:
    kube_bin()
    return cache_dir() / "kwok" / f"v{versions()['KWOK_VERSION']}" / "stages"


def helm() -> Path:
    kube_bin()
    return cache_dir() / "helm" / f"v{versions()['HELM_VERSION']}" / "bin" / "helm"


@cache
def hatchet_bin() -> Path:
    d = cache_dir() / "hatchet" / f"v{versions()['HATCHET_ENGINE_VERSION']}" / "bin"
    return d if (d / ".done").exists() else _build("build-hatchet.sh")
