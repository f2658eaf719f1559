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
    assert len(props["labels"]["x-kubernetes-validations"]) == 4
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


# HATCHET_CLIENT_* variables the SDK reads that stay open to users: pure tuning that does not change
# how the operator's wiring (token, address, TLS, health port and probes, slots, labels) behaves.
USER_TUNABLE = {
    "HATCHET_CLIENT_WORKER_LISTENER_GIVE_UP_SECONDS",
    "HATCHET_CLIENT_WORKER_HEALTHCHECK_EVENT_LOOP_BLOCK_THRESHOLD_SECONDS",
}


def _sdk_variables() -> set[str]:
    from hatchet_worker import config

    out = {config.ENV_PREFIX + s for s in config._ENV_FIELDS.values()}
    out |= {config.ENV_PREFIX + "TLS_" + s for s in config._TLS_ENV.values()}
    out |= {config.ENV_PREFIX + "WORKER_HEALTHCHECK_" + s for s in config._HEALTH_ENV.values()}
    return out


def _reserved(name: str) -> bool:
    return name in api.RESERVED_ENV or name.startswith(api.RESERVED_ENV_PREFIXES)


def test_every_sdk_variable_is_reserved_or_explicitly_user_tunable() -> None:
    # Read from the SDK's own tables, so a variable added there fails here until it is classified.
    sdk = _sdk_variables()
    assert sdk >= USER_TUNABLE
    unclassified = sorted(v for v in sdk - USER_TUNABLE if not _reserved(v))
    assert unclassified == []
    for name in ("HATCHET_CLIENT_TENANT_ID", "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS"):
        assert _reserved(name)
    assert _reserved("HATCHET_CLIENT_GRPC_MAX_RECV_MESSAGE_LENGTH")
    assert not any(_reserved(v) for v in USER_TUNABLE)


def test_env_rule_names_every_reserved_variable_and_prefix() -> None:
    spec = _schema()["properties"]["spec"]
    [rule] = [r["rule"] for r in spec["x-kubernetes-validations"] if r.get("fieldPath") == ".env"]
    for name in api.RESERVED_ENV:
        assert f"'{name}'" in rule
    for prefix in api.RESERVED_ENV_PREFIXES:
        assert f"startsWith('{prefix}')" in rule


def test_key_grammar_rules_and_bounds_for_cel_cost() -> None:
    props = _schema()["properties"]["spec"]["properties"]
    for field in ("podLabels", "nodeSelector", "podAnnotations"):
        node = props[field]
        assert node["maxProperties"] <= 64, field  # bounds the CEL cost estimate
        [rule] = node["x-kubernetes-validations"]
        assert api.QUALIFIED_NAME in rule["rule"] and field in rule["message"]
    for field in ("podLabels", "nodeSelector"):
        assert props[field]["additionalProperties"]["pattern"] == api.LABEL_VALUE
    resources = props["resources"]
    assert any("quantity(" in r["rule"] for r in resources["x-kubernetes-validations"])
    for side in ("limits", "requests"):
        q = resources["properties"][side]["additionalProperties"]
        assert q["minimum"] == 0 and q["pattern"] == api.NONNEGATIVE_QUANTITY
    label = props["labels"]["additionalProperties"]
    assert (label["minimum"], label["maximum"]) == (-(2**31), 2**31 - 1)
    assert props["durableSlots"]["minimum"] == 0
    assert props["automountServiceAccountToken"]["type"] == "boolean"
