"""The Event the operator posts about a HatchetWorker (pure part)."""

from __future__ import annotations

import datetime

from hatchet_operator import events, status


def test_event_body() -> None:
    obj = {
        "apiVersion": "hatchetkube.io/v1alpha1",
        "kind": "HatchetWorker",
        "metadata": {"name": "w", "namespace": "ns", "uid": "u-1"},
    }
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    body = events.event_body(obj, status.Event("Warning", "SecretNotFound", "x" * 2000), "op-1", now)
    assert body["metadata"] == {"generateName": "w.", "namespace": "ns"}
    assert body["involvedObject"] == {
        "apiVersion": "hatchetkube.io/v1alpha1",
        "kind": "HatchetWorker",
        "name": "w",
        "namespace": "ns",
        "uid": "u-1",
    }
    assert (body["type"], body["reason"]) == ("Warning", "SecretNotFound")
    assert len(body["message"]) == 1024
    assert body["source"] == {"component": "hatchet-operator"}
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-01-02T03:04:05Z"
