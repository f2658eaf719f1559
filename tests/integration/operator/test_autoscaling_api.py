"""spec.autoscaling on the real apiserver: mutually exclusive with anything owning the count through
the scale subresource (kubectl scale, an HPA or KEDA on the HatchetWorker), documented in
``kubectl explain``, and shown in the printer columns. (The per-field bounds and min <= max are in
the invalid/ and valid/ corpus of test_operator_validation.py.)"""

from __future__ import annotations

import json
import re
import urllib.error

import pytest
from conftest import worker_manifest

from harness.kube import ControlPlane


def _autoscaled(name: str) -> dict[str, object]:
    manifest = worker_manifest(name, autoscaling={"minReplicas": 0, "maxReplicas": 4})
    del manifest["spec"]["replicas"]  # type: ignore[attr-defined]
    return manifest


def test_scale_subresource_cannot_act_on_an_autoscaled_worker(kube: ControlPlane, crd: str, ns: str) -> None:
    kube.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(_autoscaled("auto")))
    path = f"/apis/hatchetkube.io/v1alpha1/namespaces/{ns}/hatchetworkers/auto/scale"
    # Nothing to read: an HPA or KEDA targeting this HatchetWorker gets an error, not a count.
    with pytest.raises(urllib.error.HTTPError) as err:
        kube.get_json(path)
    assert err.value.code == 500
    # Nor to write: the apiserver refuses a scale write when the count field is absent (before the
    # CEL rule would refuse a spec.replicas next to autoscaling); nothing is stored either way.
    cp = kube.kubectl(
        "patch",
        "-n",
        ns,
        "hw",
        "auto",
        "--subresource=scale",
        "--type=merge",
        "-p",
        '{"spec": {"replicas": 3}}',
        check=False,
    )
    assert cp.returncode != 0, cp.stdout
    assert 'the spec replicas field ".spec.replicas" does not exist' in cp.stderr, cp.stderr
    stored = json.loads(kube.kubectl("get", "-n", ns, "hw", "auto", "-o", "json").stdout)
    assert "replicas" not in stored["spec"]


def test_adding_autoscaling_to_a_counted_worker_needs_replicas_removed(kube: ControlPlane, crd: str, ns: str) -> None:
    counted = worker_manifest("counted")  # replicas: 2
    kube.kubectl("apply", "--server-side", "--field-manager=gitops", "-n", ns, "-f", "-", input=json.dumps(counted))
    # Someone else (an HPA, kubectl scale) owns the count through the scale subresource.
    kube.kubectl(
        "patch", "-n", ns, "hw", "counted", "--subresource=scale", "--type=merge", "-p", '{"spec": {"replicas": 3}}'
    )
    both = worker_manifest("counted", autoscaling={"maxReplicas": 4})
    cp = kube.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=gitops",
        "-n",
        ns,
        "-f",
        "-",
        input=json.dumps(both),
        check=False,
    )
    assert cp.returncode != 0 and "mutually exclusive" in cp.stderr, cp.stderr
    # Dropping replicas from the owner's apply is not enough while another manager still holds the
    # field: the merged object keeps replicas and is refused; the count must be released first.
    only_autoscaling = _autoscaled("counted")
    cp = kube.kubectl(
        "apply",
        "--server-side",
        "--field-manager=gitops",
        "-n",
        ns,
        "-f",
        "-",
        input=json.dumps(only_autoscaling),
        check=False,
    )
    assert cp.returncode != 0 and "mutually exclusive" in cp.stderr, cp.stderr
    kube.kubectl(
        "patch", "-n", ns, "hw", "counted", "--type=json", "-p", '[{"op": "remove", "path": "/spec/replicas"}]'
    )
    kube.kubectl(
        "apply", "--server-side", "--field-manager=gitops", "-n", ns, "-f", "-", input=json.dumps(only_autoscaling)
    )
    stored = json.loads(kube.kubectl("get", "-n", ns, "hw", "counted", "-o", "json").stdout)
    assert "replicas" not in stored["spec"] and stored["spec"]["autoscaling"]["maxReplicas"] == 4


def test_explain_and_printer_columns(kube: ControlPlane, crd: str, ns: str) -> None:
    out = kube.kubectl("explain", "hatchetworker.spec.autoscaling").stdout
    for field in (
        "minReplicas",
        "maxReplicas",
        "targetSlotUtilizationPercent",
        "scaleUpStabilizationSeconds",
        "scaleDownStabilizationSeconds",
        "maxScaleUpStep",
        "maxScaleDownStep",
        "idleSecondsBeforeRemoval",
    ):
        assert field in out, field

    def explain(path: str) -> str:
        return " ".join(kube.kubectl("explain", path).stdout.split())  # kubectl wraps lines

    assert "Default: 300" in explain("hw.spec.autoscaling.scaleDownStabilizationSeconds")
    assert "maxReplicas	<integer> -required-" in kube.kubectl("explain", "hw.spec.autoscaling").stdout
    assert "scale it up from zero" in explain("hw.status.autoscaling.actions")
    kube.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(_autoscaled("cols")))
    # The operator is not running here: write a status by hand and read it back through the columns.
    status = {"status": {"replicas": 1, "readyReplicas": 1, "autoscaling": {"desiredReplicas": 3}}}
    kube.kubectl("patch", "-n", ns, "hw", "cols", "--subresource=status", "--type=merge", "-p", json.dumps(status))
    header, row = kube.kubectl("get", "-n", ns, "hw", "cols").stdout.splitlines()
    # kubectl leaves a missing value blank: cut the row at the header's column starts.
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    cells = {n: row[a:b].strip() for n, a, b in zip(names, starts, [*starts[1:], len(row)], strict=True)}
    assert cells["CURRENT"] == "1" and cells["AUTOSCALED"] == "3" and cells["DESIRED"] == "", cells
