"""Event filters: ``hatchet.filters``, ``DefaultFilter`` and ``workflow.create_filter``.

A filter belongs to a workflow and has a scope and a CEL expression. When an event is pushed with a
``scope``, the engine evaluates the expressions of the filters in that scope of each workflow the
event key triggers (with ``input`` the event payload, ``additional_metadata``, ``payload`` the
filter's payload) and starts a run only when one is true; a workflow with filters but none in the
pushed scope is not started, and one without any filter is started as before. ``default_filters``
are sent with the workflow's registration (``PutWorkflow``), as the official SDK sends them, and the
engine keeps them as declarative filters. The client is the engine's REST API
(``/api/v1/stable/tenants/{tenant}/filters``), as in the official SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hatchet_worker import _rest
from hatchet_worker._filter_decls import DefaultFilter as DefaultFilter
from hatchet_worker._filter_decls import WorkflowFilterMethods as WorkflowFilterMethods
from hatchet_worker._filter_decls import declared as declared
from hatchet_worker.clients.rest.models.feature_parts import V1Filter, V1FilterList, V1UpdateFilterRequest

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet


def rest(client: Hatchet, method: str, path: str, body: object | None = None, *, stable: bool = False) -> Any:
    """A call to ``/api/v1[/stable]/tenants/{tenant}/{path}`` with the client's token."""
    config = client.config
    prefix = "/api/v1/stable" if stable else "/api/v1"
    full = f"{prefix}/tenants/{config.tenant_id}/{path}"
    if method == "GET":  # reads are retried per ClientConfig.tenacity, as the official SDK retries them
        return _rest.call_json_retrying(config.server_url, config.token, method, full, policy=config.tenacity,
                                        root_ca_file=config.tls_config.root_ca_file, timeout=30.0)
    return _rest.call_json(config.server_url, config.token, method, full, body,
                           root_ca_file=config.tls_config.root_ca_file, timeout=30.0)


def workflow_id(client: Hatchet, name: str) -> str:
    """The engine's id of the workflow registered as ``name`` (already namespaced).

    Raises:
        ValueError: no workflow of that name is registered (as the official ``workflow.id``).
    """
    answer = rest(client, "GET", _rest.with_query("workflows", {"name": name}))
    for row in (answer or {}).get("rows") or []:
        if row.get("name") == name:
            return str(row["metadata"]["id"])
    raise ValueError(f"No id found for {name}")


class FiltersClient:
    """``hatchet.filters``: create, list, get, update and delete the tenant's event filters."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        return rest(self._client, method, path, body, stable=True)

    def _workflow_id(self, name: str) -> str:
        """``workflow.id`` (the declarations reach the REST API through the client they are given)."""
        return workflow_id(self._client, name)

    def list(self, limit: int | None = None, offset: int | None = None, workflow_ids: Sequence[str] | None = None,
             scopes: Sequence[str] | None = None) -> V1FilterList:
        path = _rest.with_query("filters", {"offset": offset, "limit": limit,
                                            "workflowIds": list(workflow_ids or []) or None,
                                            "scopes": list(scopes or []) or None})
        return V1FilterList.model_validate(self._call("GET", path))

    async def aio_list(self, limit: int | None = None, offset: int | None = None,
                       workflow_ids: Sequence[str] | None = None, scopes: Sequence[str] | None = None) -> V1FilterList:
        return await asyncio.to_thread(self.list, limit, offset, workflow_ids, scopes)

    def get(self, filter_id: str) -> V1Filter:
        return V1Filter.model_validate(self._call("GET", f"filters/{filter_id}"))

    async def aio_get(self, filter_id: str) -> V1Filter:
        return await asyncio.to_thread(self.get, filter_id)

    def create(self, workflow_id: str, expression: str, scope: str,
               payload: Mapping[str, Any] | None = None) -> V1Filter:
        body: dict[str, Any] = {"workflowId": workflow_id, "expression": expression, "scope": scope}
        if payload is not None:  # left out when not given, as the official request model does
            body["payload"] = dict(payload)
        return V1Filter.model_validate(self._call("POST", "filters", body))

    async def aio_create(self, workflow_id: str, expression: str, scope: str,
                         payload: Mapping[str, Any] | None = None) -> V1Filter:
        return await asyncio.to_thread(self.create, workflow_id, expression, scope, payload)

    def delete(self, filter_id: str) -> V1Filter:
        return V1Filter.model_validate(self._call("DELETE", f"filters/{filter_id}"))

    async def aio_delete(self, filter_id: str) -> V1Filter:
        return await asyncio.to_thread(self.delete, filter_id)

    def update(self, filter_id: str, updates: V1UpdateFilterRequest) -> V1Filter:
        body = updates.model_dump(by_alias=True, exclude_none=True)
        return V1Filter.model_validate(self._call("PATCH", f"filters/{filter_id}", body))

    async def aio_update(self, filter_id: str, updates: V1UpdateFilterRequest) -> V1Filter:
        return await asyncio.to_thread(self.update, filter_id, updates)
