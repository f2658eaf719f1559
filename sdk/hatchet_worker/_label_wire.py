"""Desired worker labels on the wire (pure protocol translation, shared by registration and triggering)."""

from __future__ import annotations

from hatchet_worker._proto import v1_trigger_pb2
from hatchet_worker.labels import DesiredWorkerLabel


def desired_label_proto(label: DesiredWorkerLabel) -> v1_trigger_pb2.DesiredWorkerLabels:
    msg = v1_trigger_pb2.DesiredWorkerLabels(required=label.required)
    if isinstance(label.value, int) and not isinstance(label.value, bool):
        msg.int_value = label.value
    else:
        msg.str_value = str(label.value)
    if label.weight is not None:
        msg.weight = label.weight
    if label.comparator is not None:
        msg.comparator = int(label.comparator)
    return msg
