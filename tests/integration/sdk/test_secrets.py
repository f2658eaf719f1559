"""The API token never shows up in repr, errors, logs, metrics or health answers (real worker run)."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import ClientConfig, ClientTLSConfig, ConfigError, FailedTaskRunExceptionGroup, Hatchet

from .conftest import WorkerProc, standalone, wait_until


def secret_parts(token: str) -> list[str]:
    """The token and its signature: either one appearing anywhere is a leak."""
    return [token, token.rsplit(".", 1)[1]]


def assert_clean(text: str, token: str, where: str) -> None:
    for part in secret_parts(token):
        assert part not in text, f"the token leaked into {where}"


def test_config_repr_dump_and_errors_hide_the_token(hatchet: HatchetEngine) -> None:
    token = hatchet.token
    config = ClientConfig(token=token, host_port=hatchet.grpc_address, server_url=hatchet.rest_url,
                          tls_config=ClientTLSConfig(strategy="none"))
    assert config.token == token  # the public API that reads the token still works
    for text, where in ((repr(config), "repr"), (str(config), "str"), (config.model_dump_json(), "JSON"),
                        (str(config.model_dump()), "model_dump")):
        assert_clean(text, token, where)
    header, claims, signature = token.split(".")
    for broken in (f"{header}.{claims[:-7]}!!.{signature}", f"{header}.{signature}", f"{header}.e30.{signature}"):
        with pytest.raises(ConfigError) as err:
            ClientConfig(token=broken)
        assert_clean(str(err.value) + repr(err.value), token, "a ConfigError")
        assert signature not in str(err.value)
    with pytest.raises(ConfigError) as err:
        ClientConfig(token=123)
    assert "123" not in str(err.value)


def test_a_real_run_never_shows_the_token(client: Hatchet, start_worker: Any, hatchet: HatchetEngine) -> None:
    worker: WorkerProc = start_worker(HATCHET_WORKER_LOG_LEVEL="DEBUG")
    assert standalone(client, "echo").run({"value": 1})["value"] == 1
    with pytest.raises(FailedTaskRunExceptionGroup) as failed:  # a traceback travels to the engine
        standalone(client, "broken").run({"key": "b"})
    assert_clean(str(failed.value), hatchet.token, "a task error")
    answers = [worker.get(path) for path in ("/health", "/livez", "/readyz", "/metrics", "/nope")]
    for code, body in answers:
        assert code in {200, 404, 503}
        assert_clean(body, hatchet.token, "an HTTP answer")
    assert worker.metric("hatchet_worker_tasks_succeeded_total") >= 1
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(30) == 0
    assert_clean(worker.log.read_text(errors="replace"), hatchet.token, "the worker's log")


def test_a_rejected_token_is_not_echoed_in_logs(start_worker: Any, hatchet: HatchetEngine) -> None:
    header, claims, signature = hatchet.token.split(".")
    wrong = f"{header}.{claims}.{signature[::-1]}"  # well-formed, but the engine refuses it
    worker: WorkerProc = start_worker(healthy=False, HATCHET_CLIENT_TOKEN=wrong, HATCHET_WORKER_LOG_LEVEL="DEBUG",
                                      HATCHET_CLIENT_WORKER_LISTENER_GIVE_UP_SECONDS="3")
    wait_until(lambda: worker.popen.poll() is not None, 60, "the worker to give up")
    log = worker.log.read_text(errors="replace")
    assert worker.popen.returncode != 0
    assert_clean(log, wrong, "the log of a worker with a refused token")
    assert_clean(log, hatchet.token, "the log of a worker with a refused token")
