"""A feature client listed in ``_parity.MISSING_FEATURES`` raises UnsupportedFeatureError naming it.

No official feature client is missing today, so the parity test has no entry to check; this keeps
the mechanism (``_missing_features.missing``) proven for the next one.
"""

from __future__ import annotations

import pytest

from hatchet_worker import _missing_features, _parity
from hatchet_worker.exceptions import UnsupportedFeatureError


def test_a_missing_feature_raises_naming_it_and_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_parity.MISSING_FEATURES, "gizmos", ("GizmosClient", "the engine has no gizmos"))

    class Client:
        gizmos = _missing_features.missing("gizmos")

    with pytest.raises(UnsupportedFeatureError, match=r"hatchet\.gizmos is not supported.*no gizmos") as raised:
        Client().gizmos  # noqa: B018 (the access itself is what raises)
    assert raised.value.option == "hatchet.gizmos"
    assert isinstance(raised.value, NotImplementedError)  # not an AttributeError: hasattr() does not hide it
