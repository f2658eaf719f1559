"""``PaginationResponse``: the page a REST list answer covers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PaginationResponse(BaseModel):
    """Field names as in the official SDK's model."""

    model_config = ConfigDict(populate_by_name=True)

    current_page: int | None = None
    next_page: int | None = None
    num_pages: int | None = None
