"""The pure parts of the definition reads: the stored workflow config's tasks, the engine's label
comparators, and the cut of queued work into the slot pool that limits the fleet."""

from __future__ import annotations

import asyncio
from typing import Any

from hatchet_operator import autoscale
from hatchet_operator import enginedefs as ed

# A ``WorkflowVersion`` answer as v0.104.7 gives it: ``workflowConfig`` is the stored
# CreateWorkflowVersionOpts (Go field names, a few json tags).
VERSION: dict[str, Any] = {
    "metadata": {"id": "v-1"},
    "workflowConfig": {
        "Name": "ns_wf",
        "Tasks": [
            {"ReadableId": "plain", "Action": "ns_wf:plain"},
            {"ReadableId": "heavy", "Action": "ns_wf:heavy", "slotRequests": {"default": 3}},
            {"ReadableId": "dur", "Action": "ns_wf:dur", "isDurable": True},
            {"ReadableId": "both", "Action": "ns_wf:both", "slotRequests": {"default": 1, "gpu": 2, "none": 0}},
            {
                "ReadableId": "gpu",
                "Action": "ns_wf:gpu",
                "DesiredWorkerLabels": {
                    "gpu": {"Key": "gpu", "StrValue": "yes", "Required": True},
                    "zone": {"Key": "zone", "StrValue": "eu", "Weight": 10},
                    "mem": {"Key": "mem", "IntValue": 16, "Required": True, "Comparator": "GREATER_THAN"},
                },
            },
        ],
        "onFailureJob": {"ReadableId": "on_failure", "Action": "ns_wf:on_failure", "isDurable": False},
    },
}


def test_version_parsing_applies_the_engines_defaults() -> None:
    version, defs = ed.parse_version(VERSION)
    assert version == "v-1"
    assert defs["ns_wf:plain"] == ed.ActionDef({"default": 1})
    assert defs["ns_wf:heavy"].slots == {"default": 3}
    assert defs["ns_wf:dur"].slots == {"durable": 1}  # a durable task without requests: one durable slot
    assert defs["ns_wf:both"].slots == {"default": 1, "gpu": 2}  # units <= 0 dropped
    assert defs["ns_wf:on_failure"] == ed.UNKNOWN
    # Only required labels are kept (the others weigh, they do not rule a worker out).
    assert defs["ns_wf:gpu"].required == (
        ed.LabelRule("gpu", "yes"),
        ed.LabelRule("mem", "16", numeric=True, comparator="GREATER_THAN"),
    )
    assert ed.parse_version({"metadata": {"id": "v"}}) == ("v", {})
    assert ed.slot_requests({"slotRequests": {"x": 0}}) == {"default": 1}


def test_label_rules_follow_the_engines_comparators() -> None:
    eq = ed.LabelRule("gpu", "yes")
    assert eq.met_by({"gpu": "yes"}) and not eq.met_by({"gpu": "no"}) and not eq.met_by({})
    ne = ed.LabelRule("gpu", "yes", comparator="NOT_EQUAL")
    assert ne.met_by({"gpu": "no"}) and not ne.met_by({"gpu": "yes"}) and not ne.met_by({})  # missing: unmet
    gt = ed.LabelRule("mem", "16", numeric=True, comparator="GREATER_THAN")
    assert gt.met_by({"mem": "32"}) and not gt.met_by({"mem": "16"}) and not gt.met_by({"mem": "big"})
    assert ed.LabelRule("mem", "16", True, "GREATER_THAN_OR_EQUAL").met_by({"mem": "16"})
    assert ed.LabelRule("mem", "16", True, "LESS_THAN").met_by({"mem": "8"})
    assert not ed.LabelRule("mem", "16", True, "LESS_THAN_OR_EQUAL").met_by({"mem": "17"})
    assert not ed.LabelRule("mem", "16", False, "GREATER_THAN").met_by({"mem": "32"})  # text is not ordered
    task = {"DesiredWorkerLabels": {"k": {"Key": "k", "Required": True}}}
    [never] = ed.label_rules(task)
    assert not never.met_by({"k": ""})  # a required label with no value: no worker meets it


DEFS = {
    "a:gpu": ed.ActionDef({"default": 1}, (ed.LabelRule("gpu", "yes"),)),
    "a:mem": ed.ActionDef({"default": 1}, (ed.LabelRule("mem", "16", True, "GREATER_THAN_OR_EQUAL"),)),
    "a:heavy": ed.ActionDef({"default": 2}),
    "a:dur": ed.ActionDef({"durable": 1}),
}


def test_required_labels_decide_who_counts_the_work() -> None:
    queued = {"a:gpu": 3, "a:mem": 2, "a:plain": 1}
    gpu = ed.shape(queued, DEFS, [], 2, {"gpu": "yes", "mem": "32"})
    cpu = ed.shape(queued, DEFS, [], 2, {"gpu": "no", "mem": "8"})
    assert gpu.queued_unservable == 0 and cpu.queued_unservable == 5
    assert {w.action for w in gpu.work} == {"a:gpu", "a:mem", "a:plain"}
    # The EQUAL rule is handed to the decision (which leaves the work out); the comparator is not.
    assert [(w.action, w.required_labels) for w in cpu.work] == [("a:gpu", {"gpu": "yes"}), ("a:plain", {})]
    policy = autoscale.Policy(min_replicas=0, max_replicas=10, target_percent=100, down_window=0)
    for cut, labels, want in ((gpu, {"gpu": "yes", "mem": "32"}, (6, 3)), (cpu, {"gpu": "no", "mem": "8"}, (1, 1))):
        inputs = autoscale.Inputs(now=0, current_replicas=0, slots_per_worker=cut.slots_per_worker,
                                  work=cut.work, workers=[], labels=labels)
        d = autoscale.decide(policy, inputs)
        assert (d.queued, d.desired) == want


def test_the_pool_that_limits_the_fleet_is_counted() -> None:
    worker = ("w", {"default": (0, 4), "durable": (9, 10)})  # 4 of 4 default slots and 1 of 10 durable in use
    # Default: 3 x 2 + 4 = 10 of 4; durable: 5 + 1 = 6 of 10. The default pool limits.
    cut = ed.shape({"a:heavy": 3, "a:dur": 5}, DEFS, [worker], None, {})
    assert (cut.pool, cut.slots_per_worker) == ("default", 4)
    assert [(w.action, w.queued, w.slot_cost) for w in cut.work] == [("a:heavy", 3, 2)]  # dur has room
    assert cut.used == {"w": 4}
    # 50 durable tasks: 51 of 10 durable beats 4 of 4 default.
    cut = ed.shape({"a:dur": 50}, DEFS, [worker], None, {})
    assert (cut.pool, cut.slots_per_worker, cut.used) == ("durable", 10, {"w": 1})
    assert [(w.queued, w.slot_cost) for w in cut.work] == [(50, 1)]
    # Nobody has told a durable pool size yet: durable work counts in the default pool (scale from zero).
    cut = ed.shape({"a:dur": 3}, DEFS, [], 2, {})
    assert (cut.pool, cut.slots_per_worker) == ("default", 2)
    assert [(w.queued, w.slot_cost) for w in cut.work] == [(3, 1)]
    # Nothing known at all: every unit counts, the decision asks for one worker to learn.
    cut = ed.shape({"a:heavy": 1, "a:dur": 1}, DEFS, [], None, {})
    assert cut.pool is None and cut.slots_per_worker is None and sum(w.slot_cost for w in cut.work) == 3
    # An action with no definition: one default slot, nothing required (as before definitions).
    cut = ed.shape({"b:x": 2, "b:y": 0}, {}, [], 5, {})
    assert [(w.action, w.queued, w.slot_cost, dict(w.required_labels)) for w in cut.work] == [("b:x", 2, 1, {})]


def test_definitions_are_read_once_per_workflow_and_again_for_a_new_worker() -> None:
    calls: list[str] = []
    answers = {
        "/api/v1/tenants/t/workflows": {"rows": [{"metadata": {"id": "wf-1"}, "name": "NS_WF"},
                                                 {"metadata": {"id": "wf-2"}, "name": "other"}]},
        "/api/v1/workflows/wf-1/versions": VERSION,
    }

    async def get(path: str, params: list[tuple[str, str]]) -> Any:
        calls.append(path)
        return answers[path]

    defs = ed.Definitions()
    asyncio.run(defs.refresh(get, "t", {"ns_wf:heavy", "ns_wf:plain"}))
    assert calls == ["/api/v1/tenants/t/workflows", "/api/v1/workflows/wf-1/versions"]
    assert defs.get("ns_wf:heavy").slots == {"default": 3} and defs.versions == {"wf-1": "v-1"}
    asyncio.run(defs.refresh(get, "t", {"ns_wf:heavy", "ns_wf:plain"}))
    assert len(calls) == 2  # known: nothing read
    asyncio.run(defs.refresh(get, "t", {"ns_wf:heavy"}, renewed={"ns_wf:heavy"}))
    assert calls[2:] == ["/api/v1/workflows/wf-1/versions"]  # a new worker: the version again, not the list
    asyncio.run(defs.refresh(get, "t", {"gone:task"}))
    assert calls[3:] == ["/api/v1/tenants/t/workflows"] and defs.get("gone:task") == ed.UNKNOWN
    asyncio.run(defs.refresh(get, "t", {"gone:task"}))
    assert len(calls) == 4  # not asked for again every poll
    assert defs.reads == 2


def test_a_tenants_first_poll_reads_a_bounded_number_of_workflows() -> None:
    calls: list[str] = []
    rows = [{"metadata": {"id": f"wf-{i}"}, "name": f"w{i}"} for i in range(5)]

    async def get(path: str, params: list[tuple[str, str]]) -> Any:
        calls.append(path)
        if path.endswith("/workflows"):
            return {"rows": rows}
        i = path.split("/")[-2].split("-")[1]
        return {"metadata": {"id": f"v-{i}"}, "workflowConfig": {"Tasks": [{"Action": f"w{i}:t"}]}}

    defs = ed.Definitions(max_reads=2)
    actions = {f"w{i}:t" for i in range(5)}
    asyncio.run(defs.refresh(get, "t", actions))
    assert defs.reads == 2 and set(defs.defs) == {"w0:t", "w1:t"}  # the others stay unknown for now
    asyncio.run(defs.refresh(get, "t", actions))
    asyncio.run(defs.refresh(get, "t", actions))
    assert defs.reads == 5 and set(defs.defs) == actions and defs.requests == 6  # one list, 5 versions
    asyncio.run(defs.refresh(get, "t", actions, renewed=actions))  # a new worker registers all 5
    asyncio.run(defs.refresh(get, "t", actions))
    asyncio.run(defs.refresh(get, "t", actions))
    asyncio.run(defs.refresh(get, "t", actions))
    assert defs.reads == 10 and defs.pending == set()  # each re-read once, over three polls
