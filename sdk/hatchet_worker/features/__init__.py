"""The official SDK's ``hatchet_sdk.features`` paths that this SDK provides."""
