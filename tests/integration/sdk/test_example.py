"""The example worker used by the docs and the demo runs as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import WorkerProc

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "worker" / "worker.py"


def test_example_worker_serves_its_workflows(start_worker: Any, worker_env: Any) -> None:
    worker: WorkerProc = start_worker(script=EXAMPLE)
    env = worker_env()

    def trigger(name: str, payload: dict[str, Any]) -> Any:
        proc = subprocess.run([sys.executable, str(EXAMPLE), "trigger", name, json.dumps(payload)], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    assert trigger("greet", {"name": "Ada"}) == {"message": "Hello, Ada!"}
    assert trigger("pipeline", {"numbers": [1, 2, 3]})["mean"] == {"mean": 2.0}
    assert worker.metric("hatchet_worker_slots") == 10
