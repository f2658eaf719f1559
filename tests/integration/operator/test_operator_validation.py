"""The apiserver enforces the HatchetWorker schema: every manifest in invalid/ is rejected at apply
time with a message naming the offending field; the example and a full valid manifest are accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import worker_manifest

from harness.kube import ControlPlane

HERE = Path(__file__).parent
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
EXAMPLE = HERE.parents[2] / "examples" / "hatchetworker.yaml"


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <field>'"
    return first.removeprefix("# expect: ").strip()


def test_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 30


@pytest.fixture(scope="module")
def corpus_ns(kube: ControlPlane, crd: str) -> str:
    return kube.create_namespace("invalid-corpus")


@pytest.mark.parametrize("manifest", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_manifest_is_rejected_naming_the_field(kube: ControlPlane, corpus_ns: str, manifest: Path) -> None:
    cp = kube.kubectl("apply", "-n", corpus_ns, "-f", str(manifest), check=False)
    assert cp.returncode != 0, f"{manifest.name} was accepted:\n{cp.stdout}"
    assert _expected(manifest) in cp.stderr, cp.stderr
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
