"""``hatchet_sdk.features.runs`` names: the runs client and its bulk options."""

from hatchet_worker._runs_rest import BulkCancelReplayOpts, RunFilter
from hatchet_worker.runs import RunsClient

__all__ = ["BulkCancelReplayOpts", "RunFilter", "RunsClient"]
