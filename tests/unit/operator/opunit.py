"""Helpers shared by the operator's unit tests."""

from __future__ import annotations

from typing import Any

from hatchet_operator.api import v1alpha1 as api


def make_worker(spec: dict[str, Any] | None = None, **meta: Any) -> api.HatchetWorker:
    """A HatchetWorker as the apiserver would hand it over."""
    metadata = {"name": "w", "namespace": "ns", "uid": "u-1", "generation": 3, **meta}
    return api.HatchetWorker.model_validate(
        {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND,
            "metadata": metadata,
            "spec": {"image": "img:1", **(spec or {})},
        }
    )
