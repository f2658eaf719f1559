"""Our generated messages live in a private descriptor pool: the SDK imports side by side with the
official hatchet-sdk in one process (in either order) and the two agree byte for byte."""

from __future__ import annotations

import subprocess
import sys

import pytest

ROUND_TRIP = """
import {first}, {second}
from hatchet_worker._proto import dispatcher_pb2 as ours
from hatchet_sdk.contracts import dispatcher_pb2 as theirs
req = ours.WorkerRegisterRequest(worker_name="w", actions=["wf:task"], slot_config={{"default": 7}})
req.labels["gpu"].int_value = 1
back = theirs.WorkerRegisterRequest.FromString(req.SerializeToString())
got = (back.worker_name, list(back.actions), dict(back.slot_config), back.labels["gpu"].int_value)
assert got == ("w", ["wf:task"], {{"default": 7}}, 1), got
hb = ours.HeartbeatRequest(worker_id="x")
hb.heartbeat_at.GetCurrentTime()
assert theirs.HeartbeatRequest.FromString(hb.SerializeToString()).heartbeat_at.seconds == hb.heartbeat_at.seconds
print("ok")
"""


@pytest.mark.parametrize(
    ("first", "second"),
    [("hatchet_worker", "hatchet_sdk"), ("hatchet_sdk", "hatchet_worker")],
)
def test_both_sdks_import_in_one_process(first: str, second: str) -> None:
    code = ROUND_TRIP.format(first=first, second=second)
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr[-3000:]
    assert cp.stdout.strip().endswith("ok")
