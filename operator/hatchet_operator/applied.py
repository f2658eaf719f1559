"""The digest of an applied configuration, stamped on the object it was applied to (pure).

Comparing the live Deployment with the desired one ("desired is contained in live", ``diff``) finds
hand edits of the fields the operator sets, but it cannot see a *removal*: a HatchetWorker that drops
an env entry, a nodeSelector key or ``replicas`` renders a smaller configuration that the live object
still contains. So every configuration the operator applies carries an annotation with a digest of
itself; when the digest of the freshly rendered configuration differs from the live annotation, the
operator's intent has changed and it applies, whatever the live object contains. Server-side apply
then removes the fields the operator no longer sets.

Why an annotation and not the operator's ``managedFields`` entry: the operator keeps compact copies
of Deployments without ``managedFields`` (they are most of an object's size), the field set would
have to be derived from the desired object with the server's list-merge keys to compare it, and
another manager's update of a value takes that field's ownership away, which would read as a change
of intent on every such edit. The annotation is metadata, so stamping it never starts a rollout.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from hatchet_operator.api import v1alpha1 as api

ANNOTATION = f"{api.GROUP}/applied-config-digest"


def digest(config: Mapping[str, Any]) -> str:
    """A digest of a configuration (without any digest annotation it may already carry)."""
    meta = dict(config.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != ANNOTATION}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    canonical = json.dumps({**config, "metadata": meta}, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def stamp(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` carrying its own digest in ``metadata.annotations``."""
    out = copy.deepcopy(dict(config))
    meta = out.setdefault("metadata", {})
    meta.setdefault("annotations", {})[ANNOTATION] = digest(config)
    return out


def live_digest(body: Mapping[str, Any] | None) -> str | None:
    """The digest a live object was last applied with, None when it carries none."""
    if body is None:
        return None
    value = ((body.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    return str(value) if value is not None else None
