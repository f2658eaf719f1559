"""helm is the real client: it lints, renders and installs against the harness control plane."""

from __future__ import annotations

import json

from harness.binaries import versions
from harness.helm import Helm
from harness.kube import ControlPlane


def test_helm_version(helm: Helm) -> None:
    out = helm.run("version", "--short").stdout
    assert out.startswith("v" + versions()["HELM_VERSION"])


def test_helm_lint_template_and_install(helm: Helm, kube: ControlPlane, namespace: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    helm.run("create", str(tmp_path / "placeholder"))
    lint = helm.run("lint", "--strict", str(tmp_path / "placeholder"))
    assert "0 chart(s) failed" in lint.stdout
    rendered = helm.run("template", "demo", str(tmp_path / "placeholder"), "--namespace", namespace).stdout
    assert "kind: Deployment" in rendered
    # A broken chart must fail lint: the check above can fail.
    (tmp_path / "placeholder" / "templates" / "broken.yaml").write_text("{{ .Values.nope.missing }}\n")
    assert helm.run("lint", str(tmp_path / "placeholder"), check=False).returncode != 0
    (tmp_path / "placeholder" / "templates" / "broken.yaml").unlink()

    helm.run("install", "demo", str(tmp_path / "placeholder"), "--namespace", namespace, "--wait", "--timeout", "90s")
    deploy = json.loads(kube.kubectl("get", "deploy", "demo-placeholder", "-n", namespace, "-o", "json").stdout)
    assert deploy["status"]["readyReplicas"] == 1
    helm.run("uninstall", "demo", "--namespace", namespace, "--wait")
    gone = kube.kubectl("get", "deploy", "demo-placeholder", "-n", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
