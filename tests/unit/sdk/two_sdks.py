"""The same declarations run under both SDKs in a subprocess, for the tests comparing their requests.

A subprocess because the product must never import ``hatchet_sdk``: only these test programs do.
A program is ``PREAMBLE`` followed by a body that defines ``declare(sdk)`` (the workflows, declared
once for either SDK) and prints one JSON line, usually ``{**both(declare), ...}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

# A token naming an unreachable engine: building requests must never need one.
TOKEN = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQiLCJzZXJ2ZXJfdXJsIjoiaHR0cDovLzEyNy4wLjAuMTo5IiwiZ3J"
         "wY19icm9hZGNhc3RfYWRkcmVzcyI6IjEyNy4wLjAuMTo5In0.c2ln")

PREAMBLE = """
import json, sys, warnings
from typing import Any
from pydantic import BaseModel
from google.protobuf.json_format import MessageToDict
import hatchet_sdk, hatchet_worker
from hatchet_sdk.contracts.v1.workflows_pb2 import CreateWorkflowVersionRequest
from hatchet_worker._register import workflow_proto

warnings.simplefilter("ignore")


class In(BaseModel):
    n: int = 0


def as_dict(message):
    return MessageToDict(CreateWorkflowVersionRequest.FromString(message.SerializeToString()),
                         preserving_proto_field_name=True)


def both(declare):
    return {"ours": [as_dict(workflow_proto(wf, "ns_")) for wf in declare(hatchet_worker)],
            "theirs": [as_dict(wf.to_proto()) for wf in declare(hatchet_sdk)]}
"""


def run(body: str) -> Any:
    """The last line the program ``PREAMBLE + body`` printed, parsed. It gets none of the caller's
    ``HATCHET_CLIENT_*`` settings, so that only the declarations decide the requests."""
    proc = subprocess.run([sys.executable, "-c", PREAMBLE + body, TOKEN], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("HATCHET_CLIENT_")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def by_task(request: dict[str, Any]) -> dict[str, Any]:
    """Every field of the request, tasks keyed by name (the official SDK lists durable tasks last)."""
    return {**request, "tasks": {t["readable_id"]: t for t in request.get("tasks", [])}}
