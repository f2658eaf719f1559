"""Generate the HatchetWorker CustomResourceDefinition from the pydantic models (pure, deterministic).

pydantic emits JSON Schema with ``$defs``/``$ref``, ``title``s, defaults and ``anyOf [X, null]`` for
optional fields; a CRD needs a *structural* OpenAPI v3 schema: no refs, a ``type`` on every node, no
null types. ``structural()`` rewrites one into the other; ``crd()`` adds names, subresources and
printer columns; ``crd_yaml()`` is what ``crds/`` holds and what ``hatchet-operator crd`` prints.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from hatchet_operator.api import v1alpha1 as api

CRD_NAME = f"{api.PLURAL}.{api.GROUP}"
CRD_FILE = f"{api.GROUP}_{api.PLURAL}.yaml"
HEADER = (
    "# GENERATED from hatchet_operator.api.v1alpha1 by `hatchet-operator crd`. DO NOT EDIT.\n"
    "# Regenerate: hatchet-operator crd > crds/" + CRD_FILE + "\n"
)

# Keys of pydantic's output that carry no meaning in a CRD (defaults are applied by the operator).
_DROP = {"title", "default", "examples"}
_PRESERVE = "x-kubernetes-preserve-unknown-fields"


def structural(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn one pydantic JSON schema (with its ``$defs``) into a structural OpenAPI v3 schema."""
    defs = schema.get("$defs", {})
    root = {k: v for k, v in schema.items() if k != "$defs"}
    return _rewrite(root, defs)


def _rewrite(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _rewrite({**target, **siblings}, defs)
    if "anyOf" in node:
        return _rewrite_any_of(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: _rewrite(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = _rewrite(value, defs)
        elif key == "additionalProperties":
            if value is True or value == {}:
                out[_PRESERVE] = True
            elif value is not False:
                out[key] = _rewrite(value, defs)
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    if out.get(_PRESERVE) and "properties" in out:
        # An open object with some typed keys: structural schemas allow properties + preserve-unknown.
        out.pop("additionalProperties", None)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get(_PRESERVE) and "type" not in out:
        out["type"] = "object"
    if "type" not in out and "x-kubernetes-int-or-string" not in out:
        raise ValueError(f"schema node without a type: {node!r}")
    return out


def _rewrite_any_of(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    siblings = {k: v for k, v in node.items() if k != "anyOf" and k not in _DROP}
    options = [o for o in node["anyOf"] if o != {"type": "null"}]
    if len(options) == 1:
        merged = _rewrite(options[0], defs)
        # A sibling description (the field's) wins over the referenced model's docstring.
        return {**merged, **{k: _rewrite_value(k, v, defs) for k, v in siblings.items()}}
    rewritten = [_rewrite(o, defs) for o in options]
    types = sorted(o.get("type", "") for o in rewritten)
    if types == ["integer", "string"]:
        out: dict[str, Any] = {"x-kubernetes-int-or-string": True}
        # String-side constraints (a pattern, a max length) only ever apply to string values, so they
        # can sit on the node itself; structural schemas forbid types inside anyOf branches.
        string = next(o for o in rewritten if o["type"] == "string")
        out.update({k: v for k, v in string.items() if k != "type"})
        # Likewise numeric bounds (minimum, maximum) only ever apply to integer values.
        integer = next(o for o in rewritten if o["type"] == "integer")
        out.update({k: v for k, v in integer.items() if k != "type"})
        out.update(siblings)
        return out
    raise ValueError(f"unsupported union in schema: {node!r}")


def _rewrite_value(key: str, value: Any, defs: dict[str, Any]) -> Any:
    if key == "properties":
        return {name: _rewrite(sub, defs) for name, sub in value.items()}
    if key == "items" and isinstance(value, dict):
        return _rewrite(value, defs)
    return value


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of one model, camelCase field names."""
    return structural(model.model_json_schema(by_alias=True, mode="validation"))


def crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition as a dict."""
    spec = model_schema(api.HatchetWorkerSpec)
    status = model_schema(api.HatchetWorkerStatus)
    ready = '.status.conditions[?(@.type=="Ready")]'
    root: dict[str, Any] = {
        "type": "object",
        "description": "HatchetWorker runs a fleet of Hatchet workers as a Deployment: the operator "
        "injects the Hatchet connection (token from a Secret), slots, durable slots, labels and a health "
        "port with probes, and reports replica counts and Ready/Progressing/Degraded conditions.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion of this object: hatchetkube.io/v1alpha1.",
            },
            "kind": {"type": "string", "description": "Kind of this object: HatchetWorker."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": [
            {
                "rule": "size(self.metadata.name) <= 63",
                "message": "metadata.name must be at most 63 characters (it is used as a label value)",
            }
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": "hatchet-operator",
                "app.kubernetes.io/part-of": "hatchet-kube",
            },
        },
        "spec": {
            "group": api.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": api.KIND,
                "listKind": f"{api.KIND}List",
                "plural": api.PLURAL,
                "singular": api.SINGULAR,
                "shortNames": list(api.SHORT_NAMES),
                "categories": list(api.CATEGORIES),
            },
            "versions": [
                {
                    "name": api.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {
                            "name": "Desired",
                            "type": "integer",
                            "jsonPath": ".spec.replicas",
                            "description": "Desired worker pods.",
                        },
                        {
                            "name": "Ready",
                            "type": "integer",
                            "jsonPath": ".status.readyReplicas",
                            "description": "Ready worker pods.",
                        },
                        {
                            "name": "Slots",
                            "type": "integer",
                            "jsonPath": ".spec.slots",
                            "description": "Task slots per worker.",
                        },
                        {
                            "name": "Status",
                            "type": "string",
                            "jsonPath": f"{ready}.status",
                            "description": "The Ready condition.",
                        },
                        {
                            "name": "Current",
                            "type": "integer",
                            "jsonPath": ".status.replicas",
                            "description": "Worker pods that exist (from the Deployment).",
                        },
                        {
                            "name": "Autoscaled",
                            "type": "integer",
                            "jsonPath": ".status.autoscaling.desiredReplicas",
                            "description": "Worker pods the autoscaler wants (with spec.autoscaling).",
                        },
                        {
                            "name": "Reason",
                            "type": "string",
                            "jsonPath": f"{ready}.reason",
                            "priority": 1,
                            "description": "Why Ready is what it is.",
                        },
                        {
                            "name": "Image",
                            "type": "string",
                            "jsonPath": ".spec.image",
                            "priority": 1,
                            "description": "Worker image.",
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


def crd_yaml() -> str:
    """The CRD as the YAML text committed in ``crds/``."""
    return HEADER + yaml.safe_dump(crd(), sort_keys=False, width=120, allow_unicode=True)
