"""The generated CRD: in sync with the models, structural, documented, with scale and printer columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hatchet_operator import crdgen
from hatchet_operator.api import v1alpha1 as api

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "crds" / crdgen.CRD_FILE


def _schema() -> dict[str, Any]:
    return crdgen.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        out.extend(_walk(sub, f"{path}.{name}"))
    if isinstance(node.get("items"), dict):
        out.extend(_walk(node["items"], f"{path}[]"))
    if isinstance(node.get("additionalProperties"), dict):
        out.extend(_walk(node["additionalProperties"], f"{path}{{}}"))
    for i, sub in enumerate(node.get("anyOf", [])):
        out.extend(_walk(sub, f"{path}|{i}"))
    return out


def test_committed_crd_is_in_sync_with_the_models() -> None:
    assert COMMITTED.read_text() == crdgen.crd_yaml(), "regenerate: hatchet-operator crd > crds/" + crdgen.CRD_FILE


def test_schema_is_structural() -> None:
    text = crdgen.crd_yaml()
    assert "$ref" not in text and "$defs" not in text and "title:" not in text
    for path, node in _walk(_schema()):
        assert node.get("type") != "null", path
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path} has no type"
        assert not ("properties" in node and "additionalProperties" in node), path
        for option in node.get("anyOf", []):
            assert option.get("type") != "null", path


def test_every_field_has_a_description() -> None:
    missing = [
        path
        for path, node in _walk(_schema())
        if path
        and path != ".metadata"
        and not path.endswith(("[]", "}"))
        and "|" not in path
        and not node.get("description")
    ]
    assert missing == []


def test_names_scope_and_version() -> None:
    crd = crdgen.crd()
    assert crd["metadata"]["name"] == "hatchetworkers.hatchetkube.io"
    spec = crd["spec"]
    assert spec["group"] == api.GROUP and not spec["group"].endswith("k8s.io")
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "HatchetWorker"
    assert "hw" in spec["names"]["shortNames"]
    assert spec["names"]["categories"] == ["hatchet"]
    [version] = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]


def test_status_and_scale_subresources() -> None:
    sub = crdgen.crd()["spec"]["versions"][0]["subresources"]
    assert sub["status"] == {}
    assert sub["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    status = _schema()["properties"]["status"]["properties"]
    assert status["selector"]["type"] == "string"  # HPA needs a serialized selector string


def test_printer_columns() -> None:
    cols = {c["name"]: c for c in crdgen.crd()["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert cols["Desired"]["jsonPath"] == ".spec.replicas"
    assert cols["Ready"]["jsonPath"] == ".status.readyReplicas"
    assert cols["Slots"]["jsonPath"] == ".spec.slots"
    assert cols["Status"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert cols["Age"]["type"] == "date"


def test_validation_rules_are_present() -> None:
    spec = _schema()["properties"]["spec"]
    props = spec["properties"]
    assert props["slots"]["minimum"] == 1
    assert props["healthCheck"]["properties"]["port"]["minimum"] == 1
    assert props["healthCheck"]["properties"]["port"]["maximum"] == 65535
    assert props["workerName"]["pattern"] == api.WORKER_NAME
    assert props["labels"]["additionalProperties"]["x-kubernetes-int-or-string"] is True
    assert len(props["labels"]["x-kubernetes-validations"]) == 2
    tls_rules = props["hatchet"]["properties"]["tls"]["x-kubernetes-validations"]
    assert {r["fieldPath"] for r in tls_rules} == {".caSecretRef", ".clientCertSecretRef"}
    assert any("env" in r["fieldPath"] for r in spec["x-kubernetes-validations"])
    assert props["env"]["x-kubernetes-list-type"] == "map"
    # Embedded core types are open objects so users can pass any core/v1 field.
    assert props["affinity"]["x-kubernetes-preserve-unknown-fields"] is True
    assert props["volumes"]["items"]["x-kubernetes-preserve-unknown-fields"] is True
    assert props["volumes"]["items"]["properties"]["name"]["type"] == "string"


def test_no_defaults_in_the_schema() -> None:
    # Defaults live in the models and are applied by the operator; the stored object stays as written.
    assert all("default" not in node for _, node in _walk(_schema()))


def test_crd_yaml_is_parseable_and_deterministic() -> None:
    text = crdgen.crd_yaml()
    assert text == crdgen.crd_yaml()
    assert yaml.safe_load(text) == crdgen.crd()
    assert text.startswith("# GENERATED")
