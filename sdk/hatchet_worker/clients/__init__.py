"""Import paths of the official SDK (``hatchet_sdk.clients.*``), so user code only renames the package."""
