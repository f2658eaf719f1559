"""Compact, in-memory copies of watched objects (what the kopf indices hold).

A Deployment decoded from JSON costs tens of kilobytes of Python objects; a fleet of thousands would
dominate the operator's memory. An ``ObservedDeployment`` keeps the few fields reconciling reads on
every event (generation, replica counts, conditions) plus the rest as zlib-compressed JSON, inflated
only when the operator must compare the live object with what it wants. A ``fingerprint`` over the
fields it owns but whose edits do not move ``metadata.generation`` (labels, ownerReferences) lets a
reconcile skip that comparison when nothing it owns can have changed.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hatchet_operator.applied import ANNOTATION

# Metadata fields worth keeping for HatchetWorkers (the rest, managedFields and the
# last-applied-configuration annotation above all, is never read).
_WORKER_META = ("name", "namespace", "uid", "generation", "resourceVersion", "deletionTimestamp")


def _rv(meta: Mapping[str, Any]) -> int:
    # resourceVersions are opaque; etcd-backed servers use increasing integers, and they are only
    # compared here to prefer the newer of two copies of the same object.
    try:
        return int(meta.get("resourceVersion", "0"))
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True, slots=True)
class ObservedDeployment:
    """A Deployment as last seen."""

    resource_version: int
    generation: int
    fingerprint: str
    status_view: Mapping[str, Any]
    """{"metadata": {"generation"}, "spec": {"replicas"}, "status": {...}}: what status.compute reads."""
    blob: bytes
    applied_digest: str | None = None
    """The digest of the configuration the operator last applied to it (``applied.ANNOTATION``)."""

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ObservedDeployment:
        meta = body.get("metadata", {}) or {}
        spec = body.get("spec", {}) or {}
        status = dict(body.get("status", {}) or {})
        slim_meta = {k: v for k, v in meta.items() if k not in ("managedFields", "annotations")}
        annotations = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if k != "kubectl.kubernetes.io/last-applied-configuration"
        }
        if annotations:
            slim_meta["annotations"] = annotations
        # Items of a LIST carry no apiVersion/kind; the type is known.
        content = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": slim_meta, "spec": spec}
        generation = int(meta.get("generation", 0) or 0)
        return cls(
            resource_version=_rv(meta),
            generation=generation,
            fingerprint=fingerprint(generation, meta),
            status_view={
                "metadata": {"generation": generation},
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": status,
            },
            blob=zlib.compress(json.dumps(content, separators=(",", ":")).encode(), 1),
            applied_digest=annotations.get(ANNOTATION),
        )

    def body(self) -> dict[str, Any]:
        """The Deployment (without status and managedFields), inflated."""
        return json.loads(zlib.decompress(self.blob))  # type: ignore[no-any-return]


def fingerprint(generation: int, meta: Mapping[str, Any]) -> str:
    """Changes whenever anything the operator owns on a Deployment may have changed."""
    owned = [generation, meta.get("labels") or {}, meta.get("ownerReferences") or []]
    return hashlib.blake2b(json.dumps(owned, sort_keys=True).encode(), digest_size=12).hexdigest()


def slim_worker(body: Mapping[str, Any]) -> dict[str, Any]:
    """A HatchetWorker with only the fields reconciling reads."""
    meta = body.get("metadata", {}) or {}
    out: dict[str, Any] = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta[k] for k in _WORKER_META if k in meta},
        "spec": body.get("spec") or {},
    }
    if body.get("status"):
        out["status"] = body["status"]
    return out


def worker_rv(body: Mapping[str, Any]) -> int:
    return _rv(body.get("metadata", {}) or {})
