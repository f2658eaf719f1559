"""spec.autoscaling / status.autoscaling models and their CRD schema (the apiserver side is in
tests/integration/operator/test_autoscaling_api.py and the invalid/ and valid/ corpus)."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from hatchet_operator import crdgen
from hatchet_operator.api import autoscaling as asc
from hatchet_operator.api import v1alpha1 as api


def _spec_schema() -> dict[str, Any]:
    return crdgen.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]  # type: ignore[no-any-return]


def test_defaults_work_untuned() -> None:
    a = asc.Autoscaling.model_validate({"maxReplicas": 10})
    assert a.min_replicas == 1
    assert a.target_slot_utilization_percent == 80
    assert (a.scale_up_stabilization_seconds, a.scale_down_stabilization_seconds) == (0, 300)
    assert a.max_scale_up_step is None and a.max_scale_down_step is None
    assert a.idle_seconds_before_removal == 0


def test_scale_to_zero_allowed_and_min_above_max_refused() -> None:
    assert asc.Autoscaling.model_validate({"minReplicas": 0, "maxReplicas": 1}).min_replicas == 0
    with pytest.raises(pydantic.ValidationError, match="minReplicas"):
        asc.Autoscaling.model_validate({"minReplicas": 3, "maxReplicas": 2})
    with pytest.raises(pydantic.ValidationError, match="maxReplicas"):
        asc.Autoscaling.model_validate({"minReplicas": 0})
    with pytest.raises(pydantic.ValidationError, match="targetCPU"):
        asc.Autoscaling.model_validate({"maxReplicas": 2, "targetCPU": 5})


def test_spec_and_status_carry_the_new_fields() -> None:
    w = api.HatchetWorker.model_validate(
        {"metadata": {"name": "x"}, "spec": {"autoscaling": {"maxReplicas": 3, "minReplicas": 0}}}
    )
    assert w.spec.autoscaling is not None and w.spec.autoscaling.max_replicas == 3
    s = api.HatchetWorkerStatus.model_validate(
        {
            "autoscaling": {
                "desiredReplicas": 2,
                "queued": 7,
                "running": 3,
                "actions": ["wf:t"],
                "metricsAvailable": False,
            }
        }
    )
    assert s.autoscaling is not None and s.autoscaling.actions == ["wf:t"]
    dumped = s.model_dump(by_alias=True, exclude_none=True)
    assert dumped["autoscaling"]["metricsAvailable"] is False


def test_crd_rules() -> None:
    spec = _spec_schema()
    node = spec["properties"]["autoscaling"]
    assert node["required"] == ["maxReplicas"]
    assert node["properties"]["minReplicas"]["minimum"] == 0
    [rule] = node["x-kubernetes-validations"]
    assert "self.maxReplicas" in rule["rule"] and rule["fieldPath"] == ".minReplicas"
    assert {"rule": "!has(self.autoscaling) || !has(self.replicas)"}.items() <= next(
        r for r in spec["x-kubernetes-validations"] if r.get("fieldPath") == ".autoscaling"
    ).items()
    status = crdgen.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    actions = status["properties"]["autoscaling"]["properties"]["actions"]
    assert actions["maxItems"] == asc.MAX_ACTIONS and actions["items"]["maxLength"] == 512


def test_printer_columns_show_desired_vs_current() -> None:
    cols = {c["name"]: c for c in crdgen.crd()["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert cols["Current"]["jsonPath"] == ".status.replicas"
    assert cols["Autoscaled"]["jsonPath"] == ".status.autoscaling.desiredReplicas"
    assert "priority" not in cols["Current"] and "priority" not in cols["Autoscaled"]
