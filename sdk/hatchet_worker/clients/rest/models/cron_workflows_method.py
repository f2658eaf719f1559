"""``CronWorkflowsMethod``: how a cron trigger was created."""

from __future__ import annotations

from enum import StrEnum


class CronWorkflowsMethod(StrEnum):
    DEFAULT = "DEFAULT"
    """Declared with the workflow (``on_crons``)."""
    API = "API"
    """Created from the client (``create_cron``)."""
