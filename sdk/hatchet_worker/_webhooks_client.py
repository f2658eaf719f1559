"""``hatchet.webhooks``: list, get, create, update and delete the tenant's incoming webhooks.

As in the official SDK these are the engine's REST API (``/api/v1/stable/tenants/{tenant}/webhooks``
and ``.../webhooks/{name}``), answering with the official models. The request bodies carry the
fields the official ones do, with unset (None) fields left out; the auth kind (``authType``) is
derived from the auth model given. Reads are retried per ``ClientConfig.tenacity``; writes are
not, as there. The ``aio_`` forms run the call on a thread, as the official ones do.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hatchet_worker import _rest
from hatchet_worker.clients.rest.models.webhooks import (
    V1Webhook,
    V1WebhookAPIKeyAuth,
    V1WebhookAuthType,
    V1WebhookBasicAuth,
    V1WebhookHMACAuth,
    V1WebhookList,
    V1WebhookSourceName,
)

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet

AUTH_TYPES: dict[type, V1WebhookAuthType] = {
    V1WebhookBasicAuth: V1WebhookAuthType.BASIC, V1WebhookAPIKeyAuth: V1WebhookAuthType.API_KEY,
    V1WebhookHMACAuth: V1WebhookAuthType.HMAC,
}


# (the method ``list`` shadows the builtin inside the class body)
Names = list[str]
SourceNames = list[V1WebhookSourceName]


def _value(value: Any) -> Any:
    return value.value if isinstance(value, V1WebhookSourceName) else value


class WebhooksClient:
    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        config = self._client.config
        full = f"/api/v1/stable/tenants/{config.tenant_id}/webhooks{path}"
        if method == "GET":
            return _rest.call_json_retrying(config.server_url, config.token, method, full, policy=config.tenacity,
                                            root_ca_file=config.tls_config.root_ca_file, timeout=30.0)
        return _rest.call_json(config.server_url, config.token, method, full, body,
                               root_ca_file=config.tls_config.root_ca_file, timeout=30.0)

    def list(self, limit: int | None = None, offset: int | None = None, webhook_names: Names | None = None,
             source_names: SourceNames | None = None) -> V1WebhookList:
        path = _rest.with_query("", {"offset": offset, "limit": limit, "sourceNames": source_names,
                                     "webhookNames": webhook_names})
        return V1WebhookList.model_validate(self._call("GET", path))

    async def aio_list(self, limit: int | None = None, offset: int | None = None,
                       webhook_names: Names | None = None,
                       source_names: SourceNames | None = None) -> V1WebhookList:
        return await asyncio.to_thread(self.list, limit, offset, webhook_names, source_names)

    def get(self, webhook_name: str) -> V1Webhook:
        return V1Webhook.model_validate(self._call("GET", f"/{webhook_name}"))

    async def aio_get(self, webhook_name: str) -> V1Webhook:
        return await asyncio.to_thread(self.get, webhook_name)

    def create(self, source_name: V1WebhookSourceName, name: str, event_key_expression: str,
               auth: V1WebhookBasicAuth | V1WebhookAPIKeyAuth | V1WebhookHMACAuth,
               scope_expression: str | None = None, static_payload: dict[str, Any] | None = None,
               return_event_as_response_payload: bool = True) -> V1Webhook:
        body = {"sourceName": _value(source_name), "name": name, "eventKeyExpression": event_key_expression,
                "scopeExpression": scope_expression, "staticPayload": static_payload,
                "returnEventAsResponsePayload": return_event_as_response_payload,
                "auth": auth.model_dump(mode="json", by_alias=True), "authType": AUTH_TYPES[type(auth)].value}
        return V1Webhook.model_validate(self._call("POST", "", {k: v for k, v in body.items() if v is not None}))

    async def aio_create(self, source_name: V1WebhookSourceName, name: str, event_key_expression: str,
                         auth: V1WebhookBasicAuth | V1WebhookAPIKeyAuth | V1WebhookHMACAuth,
                         scope_expression: str | None = None, static_payload: dict[str, Any] | None = None,
                         return_event_as_response_payload: bool = True) -> V1Webhook:
        return await asyncio.to_thread(self.create, source_name, name, event_key_expression, auth, scope_expression,
                                       static_payload, return_event_as_response_payload)

    def update(self, webhook_name: str, event_key_expression: str | None = None, scope_expression: str | None = None,
               static_payload: dict[str, Any] | None = None,
               return_event_as_response_payload: bool | None = None) -> V1Webhook:
        body = {"eventKeyExpression": event_key_expression, "scopeExpression": scope_expression,
                "staticPayload": static_payload, "returnEventAsResponsePayload": return_event_as_response_payload}
        return V1Webhook.model_validate(self._call("PATCH", f"/{webhook_name}",
                                                   {k: v for k, v in body.items() if v is not None}))

    async def aio_update(self, webhook_name: str, event_key_expression: str | None = None,
                         scope_expression: str | None = None, static_payload: dict[str, Any] | None = None,
                         return_event_as_response_payload: bool | None = None) -> V1Webhook:
        return await asyncio.to_thread(self.update, webhook_name, event_key_expression, scope_expression,
                                       static_payload, return_event_as_response_payload)

    def delete(self, webhook_name: str) -> V1Webhook:
        return V1Webhook.model_validate(self._call("DELETE", f"/{webhook_name}"))

    async def aio_delete(self, webhook_name: str) -> V1Webhook:
        return await asyncio.to_thread(self.delete, webhook_name)
