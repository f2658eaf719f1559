"""``hatchet_sdk.clients.rest.models`` names this SDK provides (one module per model, as there)."""
