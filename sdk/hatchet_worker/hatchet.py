"""``hatchet_sdk.hatchet``: the client class."""

from hatchet_worker.client import Hatchet

__all__ = ["Hatchet"]
