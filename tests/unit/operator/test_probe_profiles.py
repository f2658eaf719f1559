"""Probe profiles: the default probes fit the SDK the image runs (this project's or the official one)."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from opunit import make_worker

from hatchet_operator import crdgen, render
from hatchet_operator.api import v1alpha1 as api


def _probes(health: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    spec = {"healthCheck": health} if health is not None else {}
    [c] = render.render_deployment(make_worker(spec))["spec"]["template"]["spec"]["containers"]
    return {k: c[k] for k in ("startupProbe", "livenessProbe", "readinessProbe")}


def _paths(probes: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {k: v["httpGet"]["path"] for k, v in probes.items()}


def test_default_profile_is_this_sdk_livez_readyz_health() -> None:
    probes = _probes()
    assert probes == _probes({"probeProfile": "hatchet-worker"})
    assert _paths(probes) == {"startupProbe": "/health", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
    assert all(p["httpGet"]["port"] == "health" for p in probes.values())
    live, ready, start = probes["livenessProbe"], probes["readinessProbe"], probes["startupProbe"]
    assert (live["periodSeconds"], live["timeoutSeconds"], live["failureThreshold"]) == (15, 5, 3)
    assert (ready["periodSeconds"], ready["timeoutSeconds"], ready["failureThreshold"]) == (10, 5, 3)
    assert (start["periodSeconds"], start["failureThreshold"]) == (2, 60)


def test_official_sdk_profile_probes_health_only_with_an_outage_tolerant_liveness() -> None:
    probes = _probes({"probeProfile": "official-sdk"})
    assert set(_paths(probes).values()) == {"/health"}
    live = probes["livenessProbe"]
    # The official /health is 503 from the first failed heartbeat: liveness must outlast an outage.
    assert live["periodSeconds"] * live["failureThreshold"] == 300
    assert probes["readinessProbe"]["failureThreshold"] == 3
    assert probes["startupProbe"] == _probes()["startupProbe"]


@pytest.mark.parametrize("profile", ["hatchet-worker", "official-sdk"])
def test_tuning_overrides_single_values_of_either_profile(profile: str) -> None:
    base = _probes({"probeProfile": profile})
    tuned = _probes({"probeProfile": profile, "livenessProbe": {"failureThreshold": 9},
                     "readinessProbe": {"path": "/custom"}})
    assert tuned["livenessProbe"] == {**base["livenessProbe"], "failureThreshold": 9}
    assert tuned["readinessProbe"]["httpGet"]["path"] == "/custom"
    assert tuned["startupProbe"] == base["startupProbe"]


def test_unknown_profile_is_rejected_by_name() -> None:
    with pytest.raises(pydantic.ValidationError, match="probeProfile"):
        make_worker({"healthCheck": {"probeProfile": "go-sdk"}})


def test_every_profile_has_probes() -> None:
    assert set(render.PROBE_PROFILES) == set(api.ProbeProfile)


def test_profile_is_documented_in_the_crd_for_kubectl_explain() -> None:
    schema = crdgen.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    field = schema["properties"]["spec"]["properties"]["healthCheck"]["properties"]["probeProfile"]
    assert field["enum"] == ["hatchet-worker", "official-sdk"]
    for word in ("/livez", "/readyz", "/health", "official", "outage", "Default: hatchet-worker"):
        assert word in field["description"]
