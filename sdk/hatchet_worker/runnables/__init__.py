"""Import paths of the official SDK (``hatchet_sdk.runnables.*``), so user code only renames the package."""
