"""The harness's Hatchet engine is the real thing: it reports the pinned version over gRPC and runs a
workflow end to end with the official hatchet-sdk (a test-only reference client)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
import pytest
from harness.hatchet import HatchetEngine
from harness.proc import Proc


def test_get_version_reports_the_pinned_engine(hatchet: HatchetEngine) -> None:
    from hatchet_sdk.contracts import dispatcher_pb2, dispatcher_pb2_grpc

    with grpc.insecure_channel(hatchet.grpc_address) as ch:
        stub = dispatcher_pb2_grpc.DispatcherStub(ch)
        resp = stub.GetVersion(
            dispatcher_pb2.GetVersionRequest(), metadata=[("authorization", f"Bearer {hatchet.token}")], timeout=10
        )
    assert resp.version == hatchet.version


def test_token_claims_point_at_the_engine(hatchet: HatchetEngine) -> None:
    claims = hatchet.token_claims()
    assert claims["sub"] == hatchet.tenant_id
    assert claims["grpc_broadcast_address"] == hatchet.grpc_address
    assert claims["server_url"] == hatchet.rest_url


@pytest.mark.timeout(180)
def test_reference_sdk_runs_a_workflow(hatchet: HatchetEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, **hatchet.client_env(), "PYTHONPATH": str(Path(__file__).parent)}
    worker = Proc("reference-worker", [sys.executable, "-m", "reference_worker"], tmp_path / "worker.log", env=env)
    worker.start()
    try:
        for k, v in hatchet.client_env().items():
            monkeypatch.setenv(k, v)
        sys.path.insert(0, str(Path(__file__).parent))
        try:
            import reference_worker as ref
        finally:
            sys.path.pop(0)
        hatchet.wait_for_worker("harness-reference-worker", procs=[worker])
        result = ref.echo.run(ref.EchoInput(n=21))
        assert result == {"double": {"doubled": 42}}
        assert worker.alive(), worker.tail()
    finally:
        worker.stop()
