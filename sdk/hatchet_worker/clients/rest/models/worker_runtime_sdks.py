"""``WorkerRuntimeSDKs`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import WorkerRuntimeSDKs

__all__ = ["WorkerRuntimeSDKs"]
