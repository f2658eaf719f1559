"""The pod's grace period covers the SDK's whole shutdown budget, for every drain timeout.

The operator never imports the SDK; this test imports both so the two numbers cannot drift apart.
"""

from __future__ import annotations

import pytest
from opunit import make_worker

from hatchet_operator import render
from hatchet_worker._shutdown import SHUTDOWN_MARGIN_SECONDS, ShutdownPlan, budget_seconds

SLACK = 3.0
"""At least this much is left between the SDK's last deadline and the kubelet's SIGKILL."""


@pytest.mark.parametrize("drain", [0, 1, 2, 8, 30, 45, 300, 600, 3600, 86400])
def test_grace_period_covers_the_sdk_budget(drain: int) -> None:
    dep = render.render_deployment(make_worker({"drain": {"timeoutSeconds": drain}}))
    pod = dep["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert float(env["HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS"]) == drain
    assert pod["terminationGracePeriodSeconds"] >= budget_seconds(drain) + SLACK


@pytest.mark.parametrize("drain", [0.0, 0.5, 3.0, 8.0, 600.0])
def test_every_step_deadline_is_inside_the_budget_and_in_order(drain: float) -> None:
    plan = ShutdownPlan(started=100.0, drain_timeout=drain)
    steps = [plan.started, plan.pause, plan.drain, plan.cancel, plan.flush, plan.listener, plan.teardown, plan.end]
    assert steps == sorted(steps)
    assert plan.pause <= plan.drain
    assert plan.end - plan.started == pytest.approx(drain + SHUTDOWN_MARGIN_SECONDS)
    assert budget_seconds(drain) == pytest.approx(plan.end - plan.started)


def test_margin_is_the_documented_number() -> None:
    assert SHUTDOWN_MARGIN_SECONDS == 10.0
