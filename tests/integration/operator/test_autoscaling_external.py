"""An autoscaled HatchetWorker whose Deployment a HorizontalPodAutoscaler also scales (as KEDA's
ScaledObjects do): the operator stands aside and says so, and takes over again once the HPA is gone.

Real parts: the apiserver and kube-controller-manager's HPA controller (which raises a Deployment
below the HPA's minReplicas without needing any metrics), and the real engine the operator reads.
What the operator wrote is counted from the apiserver's own request metrics.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from conftest import Cluster, Operator, apiserver_writes, sum_samples, worker_manifest

from harness.hatchet import HatchetEngine
from harness.kube import ControlPlane
from harness.proc import wait_for

NAME = "ext"


def hpa(name: str, target_kind: str, target_api: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": target_api, "kind": target_kind, "name": NAME},
            "minReplicas": replicas,
            "maxReplicas": replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
        },
    }


def hpa_lists(kube: ControlPlane) -> float:
    """Namespaced LISTs of HorizontalPodAutoscalers the apiserver has served (all clients)."""
    return sum_samples(kube.metrics(), "apiserver_request_total",
                       {"resource": "horizontalpodautoscalers", "verb": "LIST", "scope": "namespace"})


def test_an_hpa_on_the_deployment_makes_the_autoscaler_stand_aside_until_it_is_removed(
    operator: Operator, cluster: Cluster, hatchet: HatchetEngine, kube: ControlPlane
) -> None:
    c = cluster
    c.secret(data={"HATCHET_CLIENT_TOKEN": base64.b64encode(hatchet.token.encode()).decode()})
    manifest = worker_manifest(NAME, slots=2, hatchet={"serverUrl": hatchet.rest_url},
                               autoscaling={"minReplicas": 1, "maxReplicas": 3, "scaleDownStabilizationSeconds": 0})
    del manifest["spec"]["replicas"]
    c.apply(manifest)

    def state() -> tuple[dict[str, Any], dict[str, Any], int]:
        hw = c.get("hatchetworker", NAME) or {}
        status = hw.get("status") or {}
        cond = next((x for x in status.get("conditions") or () if x["type"] == "ScalingActive"), {})
        return status.get("autoscaling") or {}, cond, int(((c.get("deployment", NAME) or {}).get("spec") or {})
                                                           .get("replicas", -1))

    # No work: the operator's decision is its minimum, 1, which the Deployment already has.
    wait_for(lambda: (s := state())[0].get("desiredReplicas") == 1 and s[1].get("status") == "True" and s[2] == 1,
             90, "autoscaled to 1 with ScalingActive True", procs=(operator.proc,))

    # An HPA (what a KEDA ScaledObject creates) on the Deployment raises it to its own minimum, 2.
    c.apply(hpa("ext-hpa", "Deployment", "apps/v1", 2))
    ours_before = apiserver_writes(kube, "deployments", "scale", verbs=("PATCH",))
    try:
        found = wait_for(lambda: (s := state())[0].get("externalAutoscaler") and s, 120,
                         "status.autoscaling.externalAutoscaler", procs=(operator.proc,))
    except AssertionError as e:
        seen = (c.k("get", "hpa", "-o", "yaml").stdout,
                c.k("get", "deployment", NAME, "-o", "yaml", "--show-managed-fields").stdout, state())
        raise AssertionError(f"{e}\n{seen}") from None
    scaling, cond, replicas = found
    assert scaling["externalAutoscaler"] == "HorizontalPodAutoscaler/ext-hpa", scaling
    assert cond["status"] == "False" and cond["reason"] == "ExternalAutoscaler", cond
    assert "ext-hpa" in cond["message"] and "not scaling" in scaling["reason"], (cond, scaling)
    assert replicas == 2 and scaling["desiredReplicas"] == 1, found  # it wants 1 but does not fight
    events = json.loads(c.k("get", "events", "--field-selector",
                            f"involvedObject.name={NAME},reason=ExternalAutoscaler", "-o", "json").stdout)["items"]
    assert len(events) == 1 and events[0]["type"] == "Warning" and "ext-hpa" in events[0]["message"], events
    # Over two more polls the operator writes no count: the HPA's 2 stands. Each of its evaluations while
    # the HPA is there lists the namespace's HPAs, and nothing else here lists them by namespace, so the
    # apiserver's count of those lists counts the operator's chances to write. Once the scale-up's own
    # events are handled (both pods Ready in the HatchetWorker's status), the only evaluations left are
    # the polls, 15 s apart (in a timed run: one list each, none between).
    wait_for(lambda: ((c.get("hatchetworker", NAME) or {}).get("status") or {}).get("readyReplicas") == 2, 60,
             "the HatchetWorker's status to show the HPA's 2 pods Ready", procs=(operator.proc,))
    lists_before = hpa_lists(kube)
    try:
        wait_for(lambda: hpa_lists(kube) >= lists_before + 2, 60,
                 "two more evaluations by the operator with the HPA in place (two polls, about 15 s apart)",
                 interval=1.0, procs=(operator.proc,))
    except AssertionError as e:
        raise AssertionError(f"{e}\nHPA lists: {lists_before:g} before, {hpa_lists(kube):g} now; {state()}") from None
    assert state()[2] == 2 and state()[0].get("externalAutoscaler")
    assert apiserver_writes(kube, "deployments", "scale", verbs=("PATCH",)) == ours_before

    # The HPA goes: at the next poll the operator scales again. (Its pods here are kwok pods with no
    # worker, which a scale-down never removes while they are Ready, so it is shown going up.)
    c.k("delete", "hpa", "ext-hpa")
    c.k("patch", "hatchetworker", NAME, "--type", "merge", "-p", '{"spec": {"autoscaling": {"minReplicas": 3}}}')
    try:
        wait_for(lambda: (s := state())[2] == 3 and "externalAutoscaler" not in s[0] and s[1].get("status") == "True",
                 120, "scaled to 3 by the operator, ScalingActive True, externalAutoscaler gone",
                 procs=(operator.proc,))
    except AssertionError as e:
        raise AssertionError(f"{e}\n{state()}") from None
    assert apiserver_writes(kube, "deployments", "scale", verbs=("PATCH",)) > ours_before
