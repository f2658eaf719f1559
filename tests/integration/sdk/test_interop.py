"""Interoperability with the official SDK on the same engine, both directions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hatchet_worker import Hatchet

from .conftest import WorkerProc, standalone

OFFICIAL = Path(__file__).parent / "apps" / "official_app.py"

pytestmark = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("hatchet_sdk") is None, reason="needs the official SDK")


def test_official_worker_runs_what_our_client_triggers(client: Hatchet, start_worker: Any) -> None:
    worker: WorkerProc = start_worker(script=OFFICIAL)
    out = standalone(client, "official_echo").run({"value": 3})
    assert out == {"by": "official", "input": {"value": 3}, "retry_count": 0}
    assert worker.popen.poll() is None


def test_our_worker_runs_what_the_official_client_triggers(start_worker: Any,
                                                           worker_env: Any) -> None:
    start_worker(APP_TAG="ours")
    env = worker_env()
    proc = subprocess.run([sys.executable, str(OFFICIAL), "dag", json.dumps({"value": 2})], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"first": {"n": 3}, "second": {"n": 20}, "join": {"sum": 23}}
