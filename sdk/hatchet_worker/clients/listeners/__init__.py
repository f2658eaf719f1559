"""``hatchet_sdk.clients.listeners`` import paths."""
