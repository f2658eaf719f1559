"""``hatchet_sdk.clients.events`` names: the event client, its options and the ``Event`` model."""

from hatchet_worker._event_push import (
    BulkPushEventOptions,
    BulkPushEventWithMetadata,
    Event,
    EventClient,
    PushEventOptions,
)

__all__ = ["BulkPushEventOptions", "BulkPushEventWithMetadata", "Event", "EventClient", "PushEventOptions"]
