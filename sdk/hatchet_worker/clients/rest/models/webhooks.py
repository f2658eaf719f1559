"""Incoming webhooks' models (``hatchet.webhooks``): ``V1Webhook``, ``V1WebhookList``, the three auth
kinds a webhook is created with, and the source-name enum.

Field names, JSON aliases and enum values as in the official SDK's models (and engine v0.104.7's
REST schema). The auth models are what user code builds, so they are strict about their fields
like the official ones.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta
from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse


class V1WebhookSourceName(str, Enum):  # noqa: UP042 (as the official models: str() gives the member name)
    GENERIC = "GENERIC"
    GITHUB = "GITHUB"
    STRIPE = "STRIPE"
    SLACK = "SLACK"
    LINEAR = "LINEAR"
    SVIX = "SVIX"


class V1WebhookAuthType(str, Enum):  # noqa: UP042 (as the official models: str() gives the member name)
    BASIC = "BASIC"
    API_KEY = "API_KEY"
    HMAC = "HMAC"


class V1WebhookHMACAlgorithm(str, Enum):  # noqa: UP042 (as the official models: str() gives the member name)
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"
    MD5 = "MD5"


class V1WebhookHMACEncoding(str, Enum):  # noqa: UP042 (as the official models: str() gives the member name)
    HEX = "HEX"
    BASE64 = "BASE64"
    BASE64URL = "BASE64URL"


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class V1WebhookBasicAuth(_Model):
    username: str
    password: str


class V1WebhookAPIKeyAuth(_Model):
    header_name: str = Field(alias="headerName")
    api_key: str = Field(alias="apiKey")


class V1WebhookHMACAuth(_Model):
    algorithm: V1WebhookHMACAlgorithm
    encoding: V1WebhookHMACEncoding
    signature_header_name: str = Field(alias="signatureHeaderName")
    signing_secret: str = Field(alias="signingSecret")


class V1Webhook(_Model):
    metadata: APIResourceMeta
    tenant_id: str = Field(alias="tenantId")
    name: str
    source_name: V1WebhookSourceName = Field(alias="sourceName")
    event_key_expression: str = Field(alias="eventKeyExpression")
    scope_expression: str | None = Field(default=None, alias="scopeExpression")
    static_payload: dict[str, Any] | None = Field(default=None, alias="staticPayload")
    auth_type: V1WebhookAuthType = Field(alias="authType")
    return_event_as_response_payload: bool | None = Field(default=None, alias="returnEventAsResponsePayload")


class V1WebhookList(_Model):
    pagination: PaginationResponse | None = None
    rows: list[V1Webhook] | None = None
