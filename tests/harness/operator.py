"""The project's own operator run as a local process against a harness control plane."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def operator_argv(kubeconfig: Path, metrics_port: int, health_port: int, args: Sequence[str] = ("run",)) -> list[str]:
    """`python -m hatchet_operator <args>` bound to 127.0.0.1, with its own metrics and health ports."""
    return [sys.executable, "-m", "hatchet_operator", *args, f"--kubeconfig={kubeconfig}",
            f"--metrics-port={metrics_port}", f"--health-port={health_port}", "--bind-address=127.0.0.1"]
