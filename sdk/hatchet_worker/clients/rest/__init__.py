"""``hatchet_sdk.clients.rest``: the REST models this SDK returns, under the official paths."""
