"""The benchmark's worker, written once and run with either SDK (their programming models match).

    python worker.py ours|official

Environment: the ``HATCHET_CLIENT_*`` variables, ``BENCH_SUFFIX`` (makes the workflow and worker
names unique per start, so no run of one sample can reach another sample's worker) and
``BENCH_SLOTS``; ``BENCH_QUIET=1`` drops log records below WARNING.

The official SDK is imported only here, in a process of its own: it registers its protobuf messages
in the process-wide pool and must stay out of the benchmark's process (and out of the product).
The SDK is imported and the worker built in ``main()`` only: the official SDK starts its listener
with the ``spawn`` method, which imports this file again in the child.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from typing import Any

MODULES = {"ours": "hatchet_worker", "official": "hatchet_sdk"}
SLEEP_SECONDS = 0.01

if os.environ.get("BENCH_QUIET") == "1":
    # At module level, so the official SDK's spawned listener (which imports this file) is quiet too;
    # a global disable, because that SDK resets its logger's level when imported.
    logging.disable(logging.INFO)


async def nothing(input: Any, ctx: Any) -> dict[str, bool]:
    return {"ok": True}


def nap(input: Any, ctx: Any) -> dict[str, bool]:
    time.sleep(SLEEP_SECONDS)  # a sync task: exercises the SDK's thread pool, not its event loop
    return {"ok": True}


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in MODULES:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(MODULES)}")
    sdk: Any = importlib.import_module(MODULES[sys.argv[1]])
    suffix = os.environ["BENCH_SUFFIX"]
    hatchet = sdk.Hatchet()
    noop = hatchet.workflow(name=f"bench-noop-{suffix}")
    noop.task()(nothing)
    sleep = hatchet.workflow(name=f"bench-sleep-{suffix}")
    sleep.task()(nap)
    slots = int(os.environ.get("BENCH_SLOTS", "100"))
    hatchet.worker(f"bench-{suffix}", slots=slots, workflows=[noop, sleep]).start()


if __name__ == "__main__":
    main()
