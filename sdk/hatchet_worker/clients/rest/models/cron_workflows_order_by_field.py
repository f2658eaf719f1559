"""``CronWorkflowsOrderByField`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import CronWorkflowsOrderByField

__all__ = ["CronWorkflowsOrderByField"]
