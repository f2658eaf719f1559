"""helm, built from its Go module, bound to one kubeconfig and a private cache/config home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import binaries
from .proc import run


class Helm:
    def __init__(self, workdir: Path, kubeconfig: Path | None = None) -> None:
        self.path = binaries.helm()
        self.kubeconfig = kubeconfig
        home = workdir / "helm"
        # Private dirs: parallel runs never share repository caches or plugin state.
        self.env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        if kubeconfig is not None:
            self.env["KUBECONFIG"] = str(kubeconfig)

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run([str(self.path), *args], env=self.env, check=check, timeout=timeout)
