"""``hatchet_sdk.utils`` names this SDK provides."""
