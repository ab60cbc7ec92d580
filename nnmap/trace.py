"""A run as a Chrome trace-event file (opens in Perfetto or chrome://tracing).

One process ``cores`` with a track (tid) per core, one ``host`` track, and one process
``links`` with a track per link that carried anything. Every core activity and every
link reservation is a complete (``"X"``) event; ``ts`` and ``dur`` are microseconds of
simulated time, and ``args`` keep the exact cycles, the bytes and the layer or phase.
Link spans need a run with ``trace=True``.
"""

from __future__ import annotations

import json
from typing import Any

from nnmap.run import RunResult

CORES_PID = 1
LINKS_PID = 2
HOST_TID = 0


def _phase_at(result: RunResult, cycle: float) -> str:
    ph = result.phases
    if cycle < ph.setup_end:
        return "setup"
    return "compute" if cycle < ph.compute_end else "readback"


def trace_events(result: RunResult) -> list[dict[str, Any]]:
    """The trace events of a run: metadata first, then one ``X`` event per span."""
    cfg = result.plan.chip
    us = 1e6 / cfg.clock_hz
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": CORES_PID, "name": "process_name", "args": {"name": f"cores of {cfg.name}"}},
        {"ph": "M", "pid": LINKS_PID, "name": "process_name", "args": {"name": "links"}},
        {"ph": "M", "pid": CORES_PID, "tid": HOST_TID, "name": "thread_name", "args": {"name": "host"}},
    ]
    agents = [(HOST_TID, result.chip.host)] + [(core.index + 1, core) for core in result.chip.cores]
    for tid, agent in agents:
        if tid != HOST_TID:
            events.append({"ph": "M", "pid": CORES_PID, "tid": tid, "name": "thread_name",
                           "args": {"name": f"core {agent.index} {agent.coord}"}})
            events.append({"ph": "M", "pid": CORES_PID, "tid": tid, "name": "thread_sort_index",
                           "args": {"sort_index": tid}})
        for act in agent.activities:
            events.append({
                "ph": "X", "pid": CORES_PID, "tid": tid, "cat": act.kind, "name": act.label or act.kind,
                "ts": act.start * us, "dur": (act.end - act.start) * us,
                "args": {"kind": act.kind, "layer": act.phase, "bytes": act.n_bytes,
                         "start_cycles": act.start, "cycles": act.end - act.start},
            })
    links = result.chip.network.links
    used: set[int] = set()
    for transfer in result.chip.network.transfers:
        for index, start, end in transfer.link_spans:
            used.add(index)
            events.append({
                "ph": "X", "pid": LINKS_PID, "tid": index, "cat": links[index].kind,
                "name": transfer.label or "transfer", "ts": start * us, "dur": (end - start) * us,
                "args": {"bytes": transfer.n_bytes, "phase": _phase_at(result, start), "src": str(transfer.src),
                         "dst": str(transfer.dst), "start_cycles": start, "cycles": end - start},
            })
    for index in sorted(used):
        events.append({"ph": "M", "pid": LINKS_PID, "tid": index, "name": "thread_name",
                       "args": {"name": links[index].name}})
    return events


def trace_json(result: RunResult) -> str:
    """The Chrome trace-event JSON text of a run."""
    m = result.metrics
    return json.dumps({
        "traceEvents": trace_events(result),
        "displayTimeUnit": "ns",
        "otherData": {"chip": m["chip"], "layers": m["layers"], "strategy": m["strategy"],
                      "broadcast": m["broadcast"], "clock_hz": m["clock_hz"], "time_unit": "us of simulated time"},
    })
