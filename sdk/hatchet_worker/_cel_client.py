"""``hatchet.cel.debug``: evaluate a CEL expression on the engine, as a filter or trigger would.

As in the official SDK this is the engine's REST API (``/api/v1/stable/tenants/{tenant}/cel/debug``),
retried per ``ClientConfig.tenacity`` like the official call (it changes nothing), and answering
with the official models: ``CELEvaluationResult`` holding a ``CELSuccess`` (the boolean outcome) or
a ``CELFailure`` (the engine's compile or evaluation error). An answer without its output or error
raises ``ValueError``, as there. ``aio_debug`` runs the call on a thread, as the official one does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from hatchet_worker import _rest, _retry

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet


class CELSuccess(BaseModel):
    status: Literal["success"] = "success"
    output: bool


class CELFailure(BaseModel):
    status: Literal["failure"] = "failure"
    error: str


class CELEvaluationResult(BaseModel):
    result: CELSuccess | CELFailure = Field(discriminator="status")


class CELClient:
    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def debug(self, expression: str, input: Mapping[str, Any], additional_metadata: Mapping[str, Any] | None = None,
              filter_payload: Mapping[str, Any] | None = None) -> CELEvaluationResult:
        """``input`` stands for a run's input, ``additional_metadata`` for an event's or run's metadata,
        ``filter_payload`` for a filter's payload."""
        config = self._client.config
        path = f"/api/v1/stable/tenants/{config.tenant_id}/cel/debug"
        body: dict[str, Any] = {"expression": expression, "input": dict(input)}
        if filter_payload is not None:
            body["filterPayload"] = dict(filter_payload)
        if additional_metadata is not None:
            body["additionalMetadata"] = dict(additional_metadata)
        answer = _retry.call(
            lambda: _rest.call_json(config.server_url, config.token, "POST", path, body,
                                    root_ca_file=config.tls_config.root_ca_file, timeout=30.0),
            config.tenacity, name=f"POST {path}", method="POST") or {}
        if answer.get("status") == "ERROR":
            if answer.get("error") is None:
                raise ValueError("the engine's CEL debug answer has no error message")
            return CELEvaluationResult(result=CELFailure(error=answer["error"]))
        if answer.get("output") is None:
            raise ValueError("the engine's CEL debug answer has no output")
        return CELEvaluationResult(result=CELSuccess(output=answer["output"]))

    async def aio_debug(self, expression: str, input: Mapping[str, Any],
                        additional_metadata: Mapping[str, Any] | None = None,
                        filter_payload: Mapping[str, Any] | None = None) -> CELEvaluationResult:
        return await asyncio.to_thread(self.debug, expression, input, additional_metadata, filter_payload)
