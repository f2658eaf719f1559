"""``APIResourceMeta``: the id and timestamps the engine's REST API puts on every resource."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class APIResourceMeta(BaseModel):
    """Field names and JSON aliases as in the official SDK's model."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
