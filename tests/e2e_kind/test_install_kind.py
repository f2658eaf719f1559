"""docs/install.md's kind walkthrough, run as written on this machine.

The commands of "On kind" (the whole path, with the suite's single-container engine) run in one bash,
from the repository root, with only the node image swapped for the one built here (``--image``:
nothing can be pulled) and the kubeconfig in a file of the test's own. Then the cluster is deleted
with the command the section ends with. A separate package from tests/e2e: kind-config.yaml publishes
host ports, so this cluster can only exist once the tier's own cluster is gone.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from harness import binaries, kind
from harness.proc import run

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "install.md"
CREATE = "kind create cluster --config kind-config.yaml"


def _missing() -> str | None:
    # Imported here: e2e_clusters pulls in the real-node harness, which this test does not need.
    from e2e.e2e_clusters import KindCluster

    return KindCluster.missing()


WHY = _missing()
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800),
              pytest.mark.skipif(WHY is not None, reason=f"kind cannot run here: {WHY}")]


def walkthrough() -> tuple[str, str]:
    """The section's full-path commands and the command it deletes the cluster with."""
    text = DOC.read_text()
    section = text[text.index("## 5. On kind"):text.index("## 6.")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    script = next(b for b in blocks if "tests/e2e/manifests/hatchet-engine.yaml" in b)
    delete = re.search(r"Delete the cluster with `(kind delete cluster[^`]*)`", section)
    assert delete is not None, "the kind section no longer says how to delete the cluster"
    return script, delete.group(1)


def test_the_kind_walkthrough_runs_as_written(tmp_path: Path) -> None:
    script, delete = walkthrough()
    assert script.count(CREATE) == 1, f"the walkthrough must create its cluster with `{CREATE}`"
    build = kind.build()
    docker = kind.Docker(tmp_path, build.docker_root).start()
    try:
        if not docker.private and "hatchet-kube" in docker.docker("ps", "-a", "--format", "{{.Names}}").stdout:
            pytest.skip("this machine's Docker already runs a cluster named hatchet-kube (the walkthrough's)")
        docker.ensure_image(build.node_image, build.node_tar)
        env = {**docker.env, "KUBECONFIG": str(tmp_path / "kubeconfig"),
               "PATH": os.pathsep.join([str(build.kind.parent), str(binaries.kube_bin()), str(binaries.helm().parent),
                                        str(REPO / ".venv" / "bin"), docker.env["PATH"]])}
        body = script.replace(CREATE, f"{CREATE} --image {build.node_image}")
        # Background jobs the walkthrough starts (its port-forward) end with the script.
        wrapped = f"set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{body}"
        try:
            cp = run(["bash", "-c", wrapped], cwd=REPO, env=env, timeout=1500, check=False)
        finally:
            gone = run(["bash", "-c", delete], cwd=REPO, env=env, timeout=300, check=False)
        out = f"{cp.stdout[-3000:]}\n{cp.stderr[-4000:]}"
        assert cp.returncode == 0, f"the walkthrough failed ({cp.returncode}):\n{out}"
        # The last command triggers greet on the worker pods; its output is the run's result.
        result = json.loads(cp.stdout.strip().splitlines()[-1])
        assert result == {"message": "Hello, kind!"}
        assert gone.returncode == 0, gone.stderr
        assert "hatchet-kube" not in docker.docker("ps", "-a", "--format", "{{.Names}}").stdout
    finally:
        docker.stop()
