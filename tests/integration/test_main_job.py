"""The README's main job (`make up`) converges on the embedded default stack, end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_up_once_converges_and_runs_a_workflow(tmp_path: Path) -> None:
    cp = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "up.py"), "--once", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=280,
    )
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr[-4000:]
    out = cp.stdout
    assert "example-worker   2         2" in out  # DESIRED 2, READY 2 in the printer columns
    assert '"mean": {"mean": 2.5}' in out  # the run executed by a worker with the rendered env
    assert "converged in" in out
