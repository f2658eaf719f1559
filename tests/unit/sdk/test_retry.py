"""``_retry``: the official SDK's tenacity policy for client calls, and where it and ``DedupeViolationError`` apply.

The policy is checked as a pure function; the trigger paths against an in-process gRPC server standing
in for the engine, answering each call as scripted (real gRPC errors, real channel).
"""

from __future__ import annotations

import asyncio
import urllib.error
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from hatchet_worker import ClientConfig, DedupeViolationError, Hatchet, IdempotencyCollisionError
from hatchet_worker import exceptions as exc_module
from hatchet_worker._proto import v1_workflows_pb2, workflows_pb2
from hatchet_worker._retry import HTTPMethod, RetryState, TenacityConfig, WaitExponentialJitter, call, should_retry
from hatchet_worker.config import TenacityConfig as ConfigTenacity

from .test_config import make_token


def rpc(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="d")


def http(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://engine/x", code, "x", None, None)  # type: ignore[arg-type]


DEFAULT = TenacityConfig()


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c not in (
    grpc.StatusCode.OK, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.NOT_FOUND)])
def test_grpc_errors_are_retried_but_for_the_request_ones(code: grpc.StatusCode) -> None:
    assert should_retry(rpc(code), DEFAULT)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT,
                                  grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED,
                                  grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND])
def test_request_errors_are_not_retried(code: grpc.StatusCode) -> None:
    assert not should_retry(rpc(code), DEFAULT)


def test_not_found_429_and_transport_errors_are_opt_in() -> None:
    assert should_retry(rpc(grpc.StatusCode.NOT_FOUND), TenacityConfig(retry_not_found=True))
    assert should_retry(http(404), DEFAULT) and should_retry(http(503), DEFAULT)
    assert not should_retry(http(400), DEFAULT) and not should_retry(http(429), DEFAULT)
    assert should_retry(http(429), TenacityConfig(retry_429=True))
    refused = urllib.error.URLError(ConnectionRefusedError())
    assert not should_retry(refused, DEFAULT, "GET")
    on = TenacityConfig(retry_transport_errors=True)
    assert should_retry(refused, on, "GET") and should_retry(TimeoutError(), on, "DELETE")
    assert not should_retry(refused, on, "POST")
    assert should_retry(refused, TenacityConfig(retry_transport_errors=True, retry_transport_methods=[HTTPMethod.POST]),
                        "POST")
    assert not should_retry(ValueError("a bug"), DEFAULT)


def test_the_official_defaults() -> None:
    assert (DEFAULT.max_attempts, DEFAULT.retry_429, DEFAULT.retry_not_found, DEFAULT.retry_transport_errors,
            DEFAULT.retry_transport_methods) == (5, False, False, False, [HTTPMethod.GET, HTTPMethod.DELETE])
    assert ConfigTenacity is TenacityConfig


def test_waits_are_exponential_with_jitter_and_capped() -> None:
    wait = WaitExponentialJitter()
    for n in range(1, 6):
        assert 2 ** (n - 1) <= wait(RetryState("f", n, ValueError())) <= 2 ** (n - 1) + 1
    assert wait(RetryState("f", 40, ValueError())) == 60


def _scripted(answers: list[BaseException | None]) -> tuple[Any, list[float], list[RetryState]]:
    slept: list[float] = []
    seen: list[RetryState] = []
    calls = iter(answers)

    def fn() -> str:
        answer = next(calls)
        if answer is not None:
            raise answer
        return "ok"

    policy = TenacityConfig(wait=lambda: lambda s: 0.5 * s.attempt_number, before_sleep=seen.append)
    try:
        return call(fn, policy, name="Trigger", sleep=slept.append), slept, seen
    except Exception as exc:
        return exc, slept, seen


def test_call_retries_then_returns_and_reports_each_retry() -> None:
    got, slept, seen = _scripted([rpc(grpc.StatusCode.UNAVAILABLE), rpc(grpc.StatusCode.INTERNAL), None])
    assert got == "ok" and slept == [0.5, 1.0]
    assert [(s.fn, s.attempt_number, s.outcome.code()) for s in seen] == [  # type: ignore[attr-defined]
        ("Trigger", 1, grpc.StatusCode.UNAVAILABLE), ("Trigger", 2, grpc.StatusCode.INTERNAL)]


def test_call_gives_up_after_max_attempts_or_at_once_on_a_request_error() -> None:
    got, slept, _ = _scripted([rpc(grpc.StatusCode.UNAVAILABLE)] * 6)
    assert isinstance(got, grpc.aio.AioRpcError) and len(slept) == 4  # 5 calls
    got, slept, _ = _scripted([rpc(grpc.StatusCode.ALREADY_EXISTS), None])
    assert isinstance(got, grpc.aio.AioRpcError) and slept == []


def test_zero_attempts_means_one_call() -> None:
    calls = []
    with pytest.raises(grpc.aio.AioRpcError):
        call(lambda: calls.append(1) or (_ for _ in ()).throw(rpc(grpc.StatusCode.UNAVAILABLE)),
             TenacityConfig(max_attempts=0), name="f", sleep=lambda s: None)
    assert calls == [1]


def test_the_config_field_and_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    token = make_token(sub="tenant-1")
    monkeypatch.setenv("HATCHET_CLIENT_TENACITY_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("HATCHET_CLIENT_TENACITY_RETRY_429", "true")
    monkeypatch.setenv("HATCHET_CLIENT_TENACITY_RETRY_TRANSPORT_METHODS", '["GET"]')
    got = ClientConfig(token=token).tenacity
    assert (got.max_attempts, got.retry_429, got.retry_transport_methods) == (2, True, [HTTPMethod.GET])
    assert ClientConfig(token=token, tenacity=TenacityConfig(max_attempts=9)).tenacity.max_attempts == 9


# -- the trigger paths against a scripted gRPC server ------------------------------------------------------


class Engine:
    """``WorkflowService`` answering from a script: a (code, message) pair aborts the call, None answers."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[grpc.StatusCode, str] | None]] = {}
        self.calls: dict[str, int] = {}
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        answers: dict[str, Any] = {
            "TriggerWorkflow": workflows_pb2.TriggerWorkflowResponse(workflow_run_id="r1"),
            "BulkTriggerWorkflow": workflows_pb2.BulkTriggerWorkflowResponse(workflow_run_ids=["r1"]),
            "ScheduleWorkflow": workflows_pb2.WorkflowVersion(id="v1"),
            "PutRateLimit": workflows_pb2.PutRateLimitResponse()}
        handlers = {name: grpc.unary_unary_rpc_method_handler(self._handler(name, answer))
                    for name, answer in answers.items()}
        details = v1_workflows_pb2.GetRunDetailsResponse(status=v1_workflows_pb2.COMPLETED, done=True)
        admin = {"GetRunDetails": grpc.unary_unary_rpc_method_handler(self._handler("GetRunDetails", details))}
        self.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("WorkflowService", handlers),
                                              grpc.method_handlers_generic_handler("v1.AdminService", admin)])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _handler(self, name: str, answer: Any) -> Any:
        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.calls[name] = self.calls.get(name, 0) + 1
            script = self.script.get(name) or [None]
            step = script.pop(0) if len(script) > 1 else script[0]
            if step is not None:
                context.abort(*step)
            return answer.SerializeToString()  # type: ignore[no-any-return]
        return handle


@pytest.fixture
def engine() -> Iterator[Engine]:
    e = Engine()
    yield e
    e.server.stop(None)


def client_for(engine: Engine, **tenacity: Any) -> Hatchet:
    quick = {"wait": lambda: lambda s: 0.01, **tenacity}
    return Hatchet(config=ClientConfig(token=make_token(sub="tenant-1"), host_port=f"127.0.0.1:{engine.port}",
                                       tls_config={"strategy": "none"}, tenacity=TenacityConfig(**quick)))


UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, "engine restarting")


def test_triggers_schedules_and_rate_limits_are_retried(engine: Engine) -> None:
    hatchet = client_for(engine)
    wf = hatchet.workflow(name="wf")
    for name in ("TriggerWorkflow", "BulkTriggerWorkflow", "ScheduleWorkflow", "PutRateLimit"):
        engine.script[name] = [UNAVAILABLE, UNAVAILABLE, None]
    assert wf.run_no_wait({}).workflow_run_id == "r1"
    assert [r.workflow_run_id for r in wf.run_many_no_wait([wf.create_bulk_run_item({})])] == ["r1"]
    wf.schedule(datetime.now(tz=UTC) + timedelta(hours=1), {})
    hatchet.rate_limits.put("k", 1)
    assert engine.calls == {"TriggerWorkflow": 3, "BulkTriggerWorkflow": 3, "ScheduleWorkflow": 3, "PutRateLimit": 3}


def test_aio_triggers_are_retried(engine: Engine) -> None:
    wf = client_for(engine).workflow(name="wf")
    engine.script["TriggerWorkflow"] = [UNAVAILABLE, None]
    assert asyncio.run(wf.aio_run_no_wait({})).workflow_run_id == "r1"
    assert engine.calls["TriggerWorkflow"] == 2


def test_without_retries_one_failure_fails_the_trigger(engine: Engine) -> None:
    wf = client_for(engine, max_attempts=0).workflow(name="wf")
    engine.script["TriggerWorkflow"] = [UNAVAILABLE, None]
    with pytest.raises(grpc.RpcError):
        wf.run_no_wait({})
    assert engine.calls["TriggerWorkflow"] == 1


def test_a_duplicate_refusal_raises_dedupe_violation_where_the_official_sdk_does(engine: Engine) -> None:
    hatchet = client_for(engine)
    wf = hatchet.workflow(name="wf")
    dup = (grpc.StatusCode.ALREADY_EXISTS, "workflow run with this dedupe value already exists")
    engine.script = {name: [dup] for name in ("TriggerWorkflow", "BulkTriggerWorkflow", "ScheduleWorkflow")}
    with pytest.raises(DedupeViolationError, match="dedupe value"):
        wf.run_no_wait({})
    with pytest.raises(DedupeViolationError):
        asyncio.run(wf.aio_run_no_wait({}))
    with pytest.raises(DedupeViolationError):
        wf.schedule(datetime.now(tz=UTC) + timedelta(hours=1), {})
    with pytest.raises(grpc.RpcError) as bulk:  # a bulk trigger re-raises it as it came, as the official SDK
        wf.run_many_no_wait([wf.create_bulk_run_item({})])
    assert not isinstance(bulk.value, DedupeViolationError)
    assert engine.calls == {"TriggerWorkflow": 2, "BulkTriggerWorkflow": 1, "ScheduleWorkflow": 1}  # never retried
    # A collision message without its details is re-raised as it came; a schedule refusal is dedupe whatever it says.
    engine.script = {"TriggerWorkflow": [(grpc.StatusCode.ALREADY_EXISTS, "idempotency key collision")],
                     "ScheduleWorkflow": [(grpc.StatusCode.ALREADY_EXISTS, "idempotency key collision")]}
    with pytest.raises(grpc.RpcError) as single:
        wf.run_no_wait({})
    assert not isinstance(single.value, DedupeViolationError | IdempotencyCollisionError)
    with pytest.raises(DedupeViolationError, match="idempotency key collision"):
        wf.schedule(datetime.now(tz=UTC) + timedelta(hours=1), {})
    assert exc_module.DedupeViolationError is DedupeViolationError


def test_rest_reads_follow_the_policy() -> None:
    """``_rest.call_json_retrying`` against a local HTTP server: 503 and 404 are retried, 429 only when
    configured, and the number of calls is the policy's."""
    import http.server
    import threading

    from hatchet_worker import _rest

    answers: list[int] = []
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            code = answers.pop(0) if answers else 200
            body = b'{"ok": true}' if code == 200 else b""
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    quick = {"wait": lambda: lambda s: 0.0}
    try:
        answers[:] = [503, 404]
        assert _rest.call_json_retrying(url, "t", "GET", "/a", policy=TenacityConfig(**quick)) == {"ok": True}
        assert len(seen) == 3
        answers[:] = [429]
        with pytest.raises(urllib.error.HTTPError):
            _rest.call_json_retrying(url, "t", "GET", "/b", policy=TenacityConfig(**quick))
        answers[:] = [429]
        assert _rest.call_json_retrying(url, "t", "GET", "/c", policy=TenacityConfig(retry_429=True, **quick))
        answers[:] = [503] * 3
        with pytest.raises(urllib.error.HTTPError):
            _rest.call_json_retrying(url, "t", "GET", "/d", policy=TenacityConfig(max_attempts=2, **quick))
        assert seen.count("/d") == 2
    finally:
        server.shutdown()


def test_get_details_retries_not_found_too_as_the_official_sdk(engine: Engine) -> None:
    hatchet = client_for(engine)
    engine.script["GetRunDetails"] = [(grpc.StatusCode.NOT_FOUND, "no run yet"), UNAVAILABLE, None]
    assert hatchet.runs.get_details("r1").status.name == "COMPLETED"
    assert engine.calls["GetRunDetails"] == 3
    engine.script["GetRunDetails"] = [(grpc.StatusCode.NOT_FOUND, "no such run")]
    with pytest.raises(grpc.RpcError):
        client_for(engine, max_attempts=2).runs.get_details("r2")
    assert engine.calls["GetRunDetails"] == 5


def test_tenacity_wait_classes_fit_when_tenacity_is_installed() -> None:
    tenacity = pytest.importorskip("tenacity")  # test-only: the official SDK depends on it
    state = RetryState("f", 3, ValueError())
    assert TenacityConfig(wait=tenacity.wait_exponential).wait()(state) == 4
    assert TenacityConfig(wait=tenacity.wait_none).wait()(state) == 0
    assert 4 <= TenacityConfig(wait=tenacity.wait_exponential_jitter).wait()(state) <= 5
