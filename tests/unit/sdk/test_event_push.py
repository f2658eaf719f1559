"""``hatchet.event.push`` / ``bulk_push`` send the requests the official SDK sends (issue §10).

A subprocess (test-only: the product never imports ``hatchet_sdk``) builds each request with the
official client's request builder and with ours, for every option and its overrides; the requests
must be equal field for field (but the timestamp). The engine's side is checked on the real engine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings

import pytest

from hatchet_worker import BulkPushEventWithMetadata, PushEventOptions
from hatchet_worker._proto import events_pb2
from hatchet_worker.clients.events import Event

TOKEN = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQiLCJzZXJ2ZXJfdXJsIjoiaHR0cDovLzEyNy4wLjAuMTo5IiwiZ3J"
         "wY19icm9hZGNhc3RfYWRkcmVzcyI6IjEyNy4wLjAuMTo5In0.c2ln")

PROGRAM = """
import json, sys, warnings
from google.protobuf.json_format import MessageToDict
import hatchet_sdk, hatchet_worker
from hatchet_worker._event_push import PushEventOptions, push_request
warnings.simplefilter("ignore")
CASES = [
    dict(key="k", payload={"a": 1}),
    dict(key="k", payload={}, options=dict(additional_metadata={"m": "o"}, priority=3, scope="s")),
    dict(key="k", payload={"b": [1]}, options=dict(additional_metadata={"m": "o"}, priority=3, scope="s"),
         additional_metadata={"m": "kw"}, priority=1, scope="t"),
    dict(key="k", payload={}, options=dict(namespace="other_")),
    dict(key="ns_k", payload={}),
]
official = hatchet_sdk.Hatchet(config=hatchet_sdk.ClientConfig(token=sys.argv[1], namespace="ns_")).event
ours = hatchet_worker.Hatchet(config=hatchet_worker.ClientConfig(token=sys.argv[1], namespace="ns_"))
out = []
for case in CASES:
    extra = {k: case[k] for k in ("additional_metadata", "priority", "scope") if k in case}
    theirs = official._prepare_push_event_request(
        key=case["key"], payload=case["payload"], options=hatchet_sdk.PushEventOptions(**case.get("options", {})),
        **extra)
    mine = push_request(ours.config, case["key"], case["payload"], PushEventOptions(**case.get("options", {})),
                        **extra)
    pair = [MessageToDict(m, preserving_proto_field_name=True) for m in (theirs, mine)]
    for d in pair:
        d.pop("event_timestamp")
    out.append(pair)
print(json.dumps(out))
"""


@pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None, reason="needs the official SDK")
def test_each_push_request_is_the_official_one() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM, TOKEN], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("HATCHET_CLIENT_")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    pairs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(pairs) == 5
    for theirs, mine in pairs:
        assert mine == theirs
    # The keyword metadata replaces the options' metadata; the options' namespace is used as given.
    assert json.loads(pairs[2][1]["additional_metadata"]) == {"m": "kw"} and pairs[2][1]["priority"] == 1
    assert pairs[3][1]["key"] == "other_k" and pairs[4][1]["key"] == "ns_k"


def test_options_are_the_official_fields_and_namespace_warns() -> None:
    with pytest.raises(ValueError, match="unknown"):
        PushEventOptions(unknown=1)  # type: ignore[call-arg]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PushEventOptions(namespace="x_")
    assert [w.category for w in caught] == [DeprecationWarning]
    assert BulkPushEventWithMetadata().model_dump() == {"key": "", "payload": {}, "additional_metadata": {},
                                                       "priority": None, "scope": None}


def test_the_event_model_reads_the_engine_answer() -> None:
    proto = events_pb2.Event(tenant_id="t", event_id="e", key="k", payload="{}", additional_metadata='{"a": 1}')
    proto.event_timestamp.FromSeconds(1_700_000_000)
    event = Event.from_proto(proto)
    assert (event.event_id, event.additionalMetadata, event.scope) == ("e", '{"a": 1}', None)
    assert event.seen_at.timestamp() == 1_700_000_000 and event.eventTimestamp.seconds == 1_700_000_000
