"""Client calls ride out a short loss of the engine connection, retried per ``ClientConfig.tenacity`` (``_retry``).

The test process reaches the real engine through a ``TcpProxy``; the worker connects directly. With
the proxy closed a trigger with retries off (``max_attempts=0``, one call) fails ``UNAVAILABLE`` at
once; a trigger made with the official defaults while the proxy is closed, brought back 1.5 s later
on the same port, succeeds after retrying, and its run completes.
"""

from __future__ import annotations

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

    back: list[TcpProxy] = []
    timer = threading.Timer(1.5, lambda: back.append(TcpProxy(hatchet.grpc_address, port=port)))
    started = time.monotonic()
    timer.start()
    try:
        ref = retrying.run_no_wait({"value": "after"})
        took = time.monotonic() - started
        assert ref.result(timeout=60)["echo"]["value"] == "after"  # a run_no_wait ref: {task: output}
    finally:
        timer.cancel()
        timer.join()
        for p in back:
            p.close()
    assert retries and all(s.outcome.code() == grpc.StatusCode.UNAVAILABLE for s in retries), retries
    assert 1.5 <= took < 20, took
    print(f"trigger succeeded {took:.2f} s after the cut, after {len(retries)} retries")
