"""The harness's Hatchet engine is the real thing: it reports the pinned version over gRPC and runs a
workflow end to end with the official hatchet-sdk (a test-only reference client, run in subprocesses
so its protobuf registrations never meet ours)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from harness.hatchet import HatchetEngine
from harness.proc import Proc

HERE = Path(__file__).parent


def _decode_string_field_1(raw: bytes) -> str:
    """GetVersionResponse{string version = 1}: tag 0x0a, a one-byte length (versions are short)."""
    assert raw[0] == 0x0A and raw[1] < 0x80, raw
    return raw[2 : 2 + raw[1]].decode()


def test_get_version_reports_the_pinned_engine(hatchet: HatchetEngine) -> None:
    # A raw unary call: no generated stubs, so this checks the engine, not a client library.
    with grpc.insecure_channel(hatchet.grpc_address) as ch:
        call = ch.unary_unary("/Dispatcher/GetVersion")
        raw = call(b"", metadata=[("authorization", f"Bearer {hatchet.token}")], timeout=10)
    assert _decode_string_field_1(raw) == hatchet.version


def test_get_version_requires_a_token(hatchet: HatchetEngine) -> None:
    with grpc.insecure_channel(hatchet.grpc_address) as ch:
        call = ch.unary_unary("/Dispatcher/GetVersion")
        with pytest.raises(grpc.RpcError) as err:
            call(b"", metadata=[("authorization", "Bearer not-a-token")], timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_token_claims_point_at_the_engine(hatchet: HatchetEngine) -> None:
    claims = hatchet.token_claims()
    assert claims["sub"] == hatchet.tenant_id
    assert claims["grpc_broadcast_address"] == hatchet.grpc_address
    assert claims["server_url"] == hatchet.rest_url


@pytest.mark.timeout(180)
def test_reference_sdk_runs_a_workflow(hatchet: HatchetEngine, tmp_path: Path) -> None:
    env = {**os.environ, **hatchet.client_env()}
    script = str(HERE / "reference_worker.py")
    worker = Proc("reference-worker", [sys.executable, script], tmp_path / "worker.log", env=env).start()
    try:
        hatchet.wait_for_worker("harness-reference-worker", procs=[worker])
        cp = subprocess.run(
            [sys.executable, script, "trigger", "21"], env=env, capture_output=True, text=True, timeout=120
        )
        assert cp.returncode == 0, cp.stderr[-3000:]
        assert json.loads(cp.stdout.strip().splitlines()[-1]) == {"double": {"doubled": 42}}
        assert worker.alive(), worker.tail()
    finally:
        worker.stop()
