"""Official ``Hatchet`` feature clients this SDK does not provide yet, as properties that raise.

Nothing of the official surface may be silently absent: ``hatchet.webhooks`` (say) must fail with
``UnsupportedFeatureError`` naming the feature, not with a bare ``AttributeError`` that reads like
a typo. Which features are missing, and why, is data in ``_parity.MISSING_FEATURES``.
"""

from __future__ import annotations

from typing import Any, NoReturn

from hatchet_worker._parity import MISSING_FEATURES
from hatchet_worker.exceptions import UnsupportedFeatureError


def missing(feature: str) -> property:
    """A read-only property that raises, naming ``hatchet.<feature>`` and the reason."""
    reason = MISSING_FEATURES[feature][1]

    def fget(self: Any) -> NoReturn:
        raise UnsupportedFeatureError(f"hatchet.{feature}", reason)

    return property(fget, doc=f"Not provided: {reason}.")
