"""Client calls ride out a short loss of the engine connection, retried per ``ClientConfig.tenacity`` (``_retry``).

The test process reaches the real engine through a ``TcpProxy``; the worker connects directly. With
the proxy closed a trigger with retries off (``max_attempts=0``, one call) fails ``UNAVAILABLE`` at
once; a trigger made with the official defaults while the proxy is closed, brought back 1.5 s later
on the same port, succeeds after retrying, and its run completes (the sync and the ``aio_`` form).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import grpc
import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet
from hatchet_worker.config import TenacityConfig

from .conftest import TcpProxy, standalone


def test_a_trigger_is_retried_through_a_cut_connection(hatchet: HatchetEngine, start_worker: Any, ns: str) -> None:
    start_worker()
    proxy = TcpProxy(hatchet.grpc_address)
    retries: list[Any] = []

    def client(tenacity: TenacityConfig) -> Hatchet:
        return Hatchet(config=ClientConfig(token=hatchet.token, host_port=proxy.address, server_url=hatchet.rest_url,
                                           namespace=ns, tls_config=ClientTLSConfig(strategy="none"),
                                           tenacity=tenacity))

    retrying = standalone(client(TenacityConfig(before_sleep=retries.append)), "echo")
    single = standalone(client(TenacityConfig(max_attempts=0)), "echo")
    assert retrying.run({"value": "before"})["value"] == "before"  # connected through the proxy

    port = int(proxy.address.rsplit(":", 1)[1])
    proxy.close()
    with pytest.raises(grpc.RpcError) as failed:
        single.run_no_wait({"value": "one attempt"})
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE

    for form in ("sync", "aio"):
        retries.clear()
        took = _trigger_while_cut(hatchet.grpc_address, port, retrying, form)
        assert retries and all(s.outcome.code() == grpc.StatusCode.UNAVAILABLE for s in retries), retries
        assert 1.5 <= took < 20, took
        print(f"{form} trigger succeeded {took:.2f} s after the cut, after {len(retries)} retries")


def _trigger_while_cut(target: str, port: int, workflow: Any, form: str) -> float:
    """Trigger ``workflow`` with the proxy on ``port`` closed, bringing it back 1.5 s later; the
    seconds the trigger took. Closes the proxy again before returning (the connection stays cut)."""
    back: list[TcpProxy] = []
    timer = threading.Timer(1.5, lambda: back.append(TcpProxy(target, port=port)))
    started = time.monotonic()
    timer.start()
    try:
        if form == "aio":
            async def trigger_and_wait() -> tuple[float, Any]:
                ref = await workflow.aio_run_no_wait({"value": form})
                return time.monotonic() - started, await ref.aio_result()
            took, result = asyncio.run(trigger_and_wait())
        else:
            ref = workflow.run_no_wait({"value": form})
            took, result = time.monotonic() - started, ref.result(timeout=60)
        assert result["echo"]["value"] == form  # a run_no_wait ref: {task: output}
    finally:
        timer.cancel()
        timer.join()
        for proxy in back:
            proxy.close()
    return took
