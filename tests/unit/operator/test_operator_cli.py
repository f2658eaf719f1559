"""The CLI: crd and render subcommands (offline), and flag parsing for run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from hatchet_operator import cli, crdgen

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "hatchetworker.yaml"


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatchet_operator", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_crd_prints_the_committed_crd() -> None:
    out = _run("crd")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (REPO / "crds" / crdgen.CRD_FILE).read_text()


def test_render_the_example() -> None:
    out = _run("render", "-f", str(EXAMPLE))
    assert out.returncode == 0, out.stderr
    dep = yaml.safe_load(out.stdout)
    assert dep["kind"] == "Deployment" and dep["metadata"]["name"] == "example-worker"
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HATCHET_CLIENT_WORKER_SLOTS"] == "10"


def test_render_from_stdin_multi_document_and_json() -> None:
    docs = EXAMPLE.read_text() + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    out = _run("render", "-f", "-", "-o", "json", stdin=docs)
    assert out.returncode == 0, out.stderr
    assert '"kind": "Deployment"' in out.stdout


def test_render_reports_invalid_manifests() -> None:
    bad = "apiVersion: hatchetkube.io/v1alpha1\nkind: HatchetWorker\nmetadata: {name: x}\nspec: {image: i, slots: 0}\n"
    out = _run("render", "-f", "-", stdin=bad)
    assert out.returncode == 1
    assert "slots" in out.stderr
    no_image = "apiVersion: hatchetkube.io/v1alpha1\nkind: HatchetWorker\nmetadata: {name: x}\nspec: {}\n"
    out = _run("render", "-f", "-", stdin=no_image)
    assert out.returncode == 1 and "image" in out.stderr
    assert _run("render", "-f", "-", "--default-image", "d:1", stdin=no_image).returncode == 0


def test_run_flags() -> None:
    args = cli._parser().parse_args(
        [
            "run",
            "-n",
            "a",
            "-n",
            "b",
            "--no-leader-election",
            "--lease-duration",
            "4",
            "--metrics-port",
            "0",
            "--default-image",
            "x:1",
            "--no-secret-check",
        ]
    )
    s = cli.settings_from(args)
    assert s.namespaces == ("a", "b")
    assert not s.leader.enabled and s.leader.lease_duration == 4
    assert s.metrics_port == 0 and s.default_image == "x:1" and not s.check_secrets
    everything = cli.settings_from(cli._parser().parse_args(["run", "-A", "-n", "a"]))
    assert everything.namespaces == ()
    assert everything.leader.identity
