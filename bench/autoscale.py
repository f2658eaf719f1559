"""Autoscaler benchmark: the operator's autoscaler against the KEDA metrics-api rule, simulated.

Both run over the same seeded workload traces in the simulator of ``bench/autoscale_sim.py``: ours
is the operator's real decision and drain code (``autoscaler.State``/``autoscale.decide`` and
``scaledown.plan``, called as the operator calls them); the baseline is what a KEDA ScaledObject
with a metrics-api trigger on task-stats' queued count makes the HPA do: desired = ceil(queued /
target per pod) clamped to [min, max], a lower count removing whichever pods the ReplicaSet
controller picks, so the tasks they run are killed and retried.

Per workload and setting it prints, for each side and as ours/KEDA: tasks interrupted by a
scale-down, their lost run time, slot-seconds provisioned but idle, pod-seconds, queue wait p50/p99
(time queued, summed over a task's attempts) and scale events. Every figure is the mean per run
over ``--seeds`` seeds, except the waits (percentiles over the tasks of all runs). It never asserts.

    .venv/bin/python bench/autoscale.py [--seeds 20] [--poll 15] [--windows 300,0] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from autoscale_sim import Cluster, KedaRule, Ours, Result, Workload, percentile, workloads


def run(workload: Workload, controller: str, seeds: Sequence[int], keda_target: float | None = None
        ) -> dict[str, Any]:
    """One side over every seed: means per run, waits pooled over all tasks."""
    results: list[Result] = []
    waits: list[float] = []
    for seed in seeds:
        cluster = Cluster(workload.setup, workload.trace(seed), seed)
        ctl = Ours(workload.setup) if controller == "ours" else KedaRule(workload.setup, keda_target)
        results.append(cluster.run(ctl))
        waits += [t.waited for t in cluster.tasks]
    n = len(results)

    def mean(attr: str) -> float:
        return sum(float(getattr(r, attr)) for r in results) / n

    return {
        "tasks": mean("tasks"),
        "unfinished": mean("tasks") - mean("finished"),
        "interrupted": mean("interrupted"),
        "interrupted_total": sum(r.interrupted for r in results),
        "runs_interrupted": sum(1 for r in results if r.interrupted),
        "lost_seconds": mean("lost_seconds"),
        "idle_slot_seconds": mean("idle_slot_seconds"),
        "pod_seconds": mean("pod_seconds"),
        "wait_p50": percentile(waits, 50),
        "wait_p99": percentile(waits, 99),
        "wait_max": max(waits, default=0.0),
        "scale_up": mean("scale_up"),
        "scale_down": mean("scale_down"),
        "scale_events": mean("scale_events"),
        "last_done": mean("last_done"),
        "runs": [
            {"interrupted": r.interrupted, "idle_slot_seconds": r.idle_slot_seconds, "wait_p99": r.wait_p99,
             "scale_events": r.scale_events, "replicas": r.replicas}
            for r in results
        ],
    }


# (key, label, format); lower is better for every one
ROWS = [
    ("interrupted", "tasks interrupted by scale-down, per run", "{:.1f}"),
    ("interrupted_total", "  the same, total over all runs", "{:d}"),
    ("runs_interrupted", "  runs with at least one", "{:d}"),
    ("lost_seconds", "run time lost to interruptions (task-s)", "{:.0f}"),
    ("idle_slot_seconds", "slot-seconds provisioned but idle", "{:.0f}"),
    ("pod_seconds", "pod-seconds", "{:.0f}"),
    ("wait_p50", "queue wait p50 (s)", "{:.1f}"),
    ("wait_p99", "queue wait p99 (s)", "{:.1f}"),
    ("wait_max", "queue wait max (s)", "{:.1f}"),
    ("scale_events", "scale events (replica writes)", "{:.1f}"),
    ("last_done", "last task done at (s)", "{:.0f}"),
]


def ratio(ours: float, keda: float) -> str:
    if keda == 0:
        return "=" if ours == 0 else "inf"
    return f"{ours / keda:.2f}"


def table(results: list[dict[str, Any]]) -> str:
    header = ("setting", "workload", "metric", "ours", "KEDA rule", "ours/KEDA")
    lines: list[tuple[str, ...]] = []
    for r in results:
        for key, label, fmt in ROWS:
            o, k = r["ours"][key], r["keda"][key]
            lines.append((r["setting"], r["workload"], label, fmt.format(o), fmt.format(k), ratio(o, k)))
        lines.append(("",) * len(header))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
           "  ".join("-" * w for w in widths)]
    for row in lines[:-1]:
        out.append("  ".join(
            c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip())
    return "\n".join(out)


KEDA_TARGETS = (4.0, 3.0, 2.0, 1.5, 1.0, 0.75, 0.5, 0.25)
"""Queued tasks per pod tried for the KEDA rule at ``--match-p99``, fewest pods first."""


def sweep(workload: Workload, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """The KEDA rule at every per-pod target of KEDA_TARGETS."""
    return [{"target": target, **run(workload, "keda", seeds, target)} for target in KEDA_TARGETS]


def match_p99(swept: list[dict[str, Any]], ours: dict[str, Any]) -> dict[str, Any] | None:
    """The KEDA rule tuned to ours' queue wait: the first per-pod target, fewest pods first, whose
    p99 wait is no worse than ours (None: none of them reaches it). "Less idle capacity at no worse
    p99" compares ours with this, not with a rule that buys its idle capacity with longer waits."""
    return next((k for k in swept if k["wait_p99"] <= ours["wait_p99"]), None)


def pair(ours: dict[str, Any], keda: dict[str, Any], key: str) -> str:
    return f"{ours[key]:.0f} / {keda[key]:.0f} ({ratio(ours[key], keda[key])})"


def matched_table(results: list[dict[str, Any]]) -> str:
    lines = ["setting                          workload  KEDA queued/pod  p99 ours/KEDA    idle slot-s ours/KEDA"
             "          pod-s ours/KEDA  interrupted ours/KEDA"]
    for r in results:
        o, k = r["ours"], r.get("keda_matched")
        if k is None:
            best = min(r["keda_sweep"], key=lambda x: x["wait_p99"])
            dominated = sum(1 for x in r["keda_sweep"] if x["idle_slot_seconds"] >= o["idle_slot_seconds"])
            lines.append(f"{r['setting']:<32} {r['workload']:<9} none reaches ours' p99 ({o['wait_p99']:.1f} s): "
                         f"its best is {best['wait_p99']:.1f} s at {best['target']:g}/pod with "
                         f"{pair(o, best, 'idle_slot_seconds')} idle slot-s; ours has less idle than "
                         f"{dominated} of its {len(r['keda_sweep'])} settings")
            continue
        lines.append(f"{r['setting']:<32} {r['workload']:<9} {k['target']:>15g}  "
                     f"{o['wait_p99']:>5.1f} / {k['wait_p99']:<5.1f}  {pair(o, k, 'idle_slot_seconds'):>26}  "
                     f"{pair(o, k, 'pod_seconds'):>22}  {o['interrupted_total']:>4d} / {k['interrupted_total']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="runs per workload (seeds 1..N)")
    parser.add_argument("--poll", type=float, default=15.0, help="seconds between decisions (both sides)")
    parser.add_argument("--windows", default="300,0", help="scale-down stabilization windows to compare, in s")
    parser.add_argument("--assign", choices=("spread", "pack"), default="spread",
                        help="how the engine picks a free slot (see bench/autoscale_sim.py)")
    parser.add_argument("--target", type=int, default=80,
                        help="targetSlotUtilizationPercent; the KEDA rule's queued tasks per pod are slots x this")
    parser.add_argument("--match-p99", action="store_true",
                        help="also tune the KEDA rule's queued tasks per pod until its p99 wait is no worse than "
                             "ours, and compare idle capacity at that setting")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    seeds = range(1, args.seeds + 1)
    results = []
    started = time.monotonic()
    for window in (float(w) for w in args.windows.split(",")):
        for w in workloads(args.poll, window, args.assign):
            w = dataclasses.replace(w, setup=dataclasses.replace(w.setup, target_percent=args.target))
            setting = f"poll {args.poll:g}s, down window {window:g}s"
            ours = run(w, "ours", seeds)
            results.append({"setting": setting, "workload": w.name, "about": w.about,
                            "ours": ours, "keda": run(w, "keda", seeds)})
            if args.match_p99:
                results[-1]["keda_sweep"] = sweep(w, seeds)
                results[-1]["keda_matched"] = match_p99(results[-1]["keda_sweep"], ours)
    print(f"{args.seeds} seeded runs per workload, figures are means per run "
          f"(waits: percentiles over all tasks of all runs); {time.monotonic() - started:.1f} s\n")
    print(f"engine assignment: {args.assign}; target {args.target} % of 5 slots (KEDA: "
          f"{5 * args.target / 100:g} queued per pod)")
    for w in workloads(args.poll):
        print(f"  {w.name}: {w.about}")
    print()
    print(table(results))
    if args.match_p99:
        print("\nAt no worse p99: the KEDA rule with the fewest queued tasks per pod whose p99 wait is ours or "
              "better (interrupted: totals over all runs)\n")
        print(matched_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
