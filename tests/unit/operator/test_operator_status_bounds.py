"""Every condition message the operator writes fits the CRD's schema, whatever the problems say.

A huge apiserver rejection (one quoting a whole object) once made the status write fail forever; the
bound is checked against the committed CRD's maxLength, not against the constant in ``status``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchet_operator import status

CRD = Path(__file__).resolve().parents[3] / "crds" / "hatchetkube.io_hatchetworkers.yaml"


def _crd_message_limit() -> int:
    crd = yaml.safe_load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    cond = schema["properties"]["status"]["properties"]["conditions"]["items"]
    return int(cond["properties"]["message"]["maxLength"])


LIMIT = _crd_message_limit()
messages = st.one_of(
    st.text(max_size=50),
    st.integers(min_value=0, max_value=3 * LIMIT).map(lambda n: "x" * n),
    st.integers(min_value=1, max_value=200).map(lambda n: "é" * (LIMIT // 2 + n)),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(messages, max_size=4), messages)
def test_condition_messages_always_fit_the_crd(problem_messages: list[str], deployment_message: str) -> None:
    deployment: dict[str, Any] = {
        "metadata": {"name": "w", "generation": 2},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 2,
            "conditions": [{"type": "ReplicaFailure", "status": "True", "message": deployment_message}],
        },
    }
    problems = [status.Problem("InvalidPodSpec", m) for m in problem_messages]
    out = status.compute(name="w", generation=3, deployment=deployment, problems=problems, previous=None, now="t")
    for c in out["conditions"]:
        assert len(c["message"]) <= min(LIMIT, status.MESSAGE_LIMIT)
    for event in status.events(None, out):
        assert len(event.message) <= LIMIT


def test_bounded_keeps_short_messages_and_marks_cut_ones() -> None:
    assert status.bounded("short") == "short"
    cut = status.bounded("y" * (status.MESSAGE_LIMIT + 1))
    assert len(cut) == status.MESSAGE_LIMIT and cut.endswith("[truncated]") and cut.startswith("yyy")
    assert status.bounded("z" * status.MESSAGE_LIMIT) == "z" * status.MESSAGE_LIMIT
