"""The apiserver enforces the HatchetWorker schema: every manifest in invalid/ is rejected at apply
time with a message naming the offending field; the example, a full manifest and every edge case in
valid/ are accepted, and each of those must also run: it passes the operator's model, renders, and
the apiserver accepts the rendered Deployment, which then holds what was rendered (no re-apply)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import worker_manifest

from harness.kube import ControlPlane
from hatchet_operator import diff, render
from hatchet_operator.api import v1alpha1 as api

HERE = Path(__file__).parent
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
VALID = sorted((HERE / "valid").glob("*.yaml"))
EXAMPLE = HERE.parents[2] / "examples" / "hatchetworker.yaml"
EXPECT = "# expect: "


def _expected(path: Path) -> list[str]:
    """The leading ``# expect: <text>`` lines: the field path first, then any part of the message."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith(EXPECT), f"{path.name} must start with '# expect: <field>'"
    return [line.removeprefix(EXPECT).strip() for line in lines if line.startswith(EXPECT)]


def test_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 60
    assert len(VALID) >= 10


@pytest.fixture(scope="module")
def corpus_ns(kube: ControlPlane, crd: str) -> str:
    return kube.create_namespace("invalid-corpus")


@pytest.mark.parametrize("manifest", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_manifest_is_rejected_naming_the_field(kube: ControlPlane, corpus_ns: str, manifest: Path) -> None:
    cp = kube.kubectl("apply", "-n", corpus_ns, "-f", str(manifest), check=False)
    assert cp.returncode != 0, f"{manifest.name} was accepted:\n{cp.stdout}"
    for text in _expected(manifest):
        assert text in cp.stderr, cp.stderr
    # Nothing was stored.
    name = manifest.stem if manifest.stem != "name-too-long" else "n" * 64
    got = kube.kubectl("get", "-n", corpus_ns, "hatchetworker", name, check=False)
    assert got.returncode != 0 and "NotFound" in got.stderr


def test_valid_manifests_are_accepted(kube: ControlPlane, corpus_ns: str) -> None:
    kube.kubectl("apply", "--dry-run=server", "-n", corpus_ns, "-f", str(EXAMPLE))
    full = worker_manifest(
        "full",
        workerName="w.1_a-b",
        durableSlots=0,
        labels={"model": "llama", "gpu": 1, "a.b/c": "d"},
        hatchet={
            "tokenSecretRef": {"name": "tok", "key": "T"},
            "hostPort": "engine.ns.svc:7070",
            "serverUrl": "https://engine.example",
            "namespace": "team_a",
            "tls": {
                "strategy": "mtls",
                "caSecretRef": {"name": "ca"},
                "clientCertSecretRef": {"name": "cc"},
                "serverName": "engine",
            },
        },
        healthCheck={"enabled": True, "port": 9000, "livenessProbe": {"path": "/livez", "periodSeconds": 5}},
        drain={"timeoutSeconds": 0},
        resources={"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": 2}},
        env=[{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        envFrom=[{"configMapRef": {"name": "cfg"}}],
        nodeSelector={"pool": "a"},
        tolerations=[{"key": "k", "operator": "Exists"}],
        affinity={"podAntiAffinity": {}},
        topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}],
        serviceAccountName="sa",
        imagePullSecrets=[{"name": "pull"}],
        volumes=[{"name": "data", "emptyDir": {}}],
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
        podAnnotations={"a": "b"},
        podLabels={"team": "a"},
        priorityClassName="high",
        podSecurityContext={"runAsUser": 1000},
        securityContext={"readOnlyRootFilesystem": False},
    )
    kube.kubectl("apply", "--dry-run=server", "-n", corpus_ns, "-f", "-", input=json.dumps(full))


def test_kubectl_explain_uses_the_descriptions(kube: ControlPlane, crd: str) -> None:
    out = kube.kubectl("explain", "hatchetworker.spec.slots").stdout
    assert "HATCHET_CLIENT_WORKER_SLOTS" in out
    out = kube.kubectl("explain", "hw.spec.hatchet.tokenSecretRef").stdout
    assert "hatchet-client-config" in out


@pytest.mark.parametrize("manifest", VALID, ids=[p.stem for p in VALID])
def test_valid_edge_case_is_accepted_and_runs(kube: ControlPlane, corpus_ns: str, manifest: Path) -> None:
    stored = json.loads(
        kube.kubectl("apply", "--dry-run=server", "-n", corpus_ns, "-o", "json", "-f", str(manifest)).stdout
    )
    stored["metadata"].setdefault("uid", "00000000-0000-0000-0000-000000000001")
    worker = api.HatchetWorker.model_validate(stored)
    desired = render.render_deployment(worker)
    # The apiserver validates the whole pod template of a Deployment: what renders must be accepted.
    cp = kube.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager",
        render.FIELD_MANAGER,
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(desired),
        check=False,
    )
    assert cp.returncode == 0, f"{manifest.name} renders a Deployment the apiserver rejects:\n{cp.stderr}"
    live = json.loads(cp.stdout)
    # Canonicalized values (quantities) must still count as applied, or every resync would re-apply.
    assert diff.mismatches(desired, live) == []


def test_valid_corpus_covers_the_new_fields() -> None:
    text = "\n".join(p.read_text() for p in VALID)
    for field in (
        "durableSlots: 0",
        "podLabels",
        "nodeSelector",
        "podAnnotations",
        "sizeLimit",
        "divisor",
        "automountServiceAccountToken",
        "2147483647",
    ):
        assert field in text, field
    assert all(yaml.safe_load(p.read_text())["metadata"]["name"] == p.stem for p in VALID)
