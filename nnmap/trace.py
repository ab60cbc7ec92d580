"""A mapper run as a Chrome trace-event file (opens in Perfetto or chrome://tracing).

The layout is ``epiphany_sim.trace``'s: a track per core and one for the host, and a
track per link that carried anything. Core spans carry the activity's kind, bytes and
the segment of the program it belongs to (``args.layer``: the segment's text, such as
``layer 1`` or the recurrent cell ``L1T3``, or ``setup`` and ``readback`` for a core's loading
and readback); link spans carry the bytes and the phase of the run (setup, compute or
readback) they fall in. Link spans need a run with ``trace=True``.
"""

from __future__ import annotations

from typing import Any

from epiphany_sim import trace as chip_trace
from epiphany_sim.chip import Chip
from epiphany_sim.trace import CORES_PID, HOST_TID, LINKS_PID, span
from nnmap.run import Phases, RunResult

__all__ = ["CORES_PID", "HOST_TID", "LINKS_PID", "phased_trace_json", "trace_events", "trace_json"]


def _phase_at(phases: Phases, cycle: float) -> str:
    if cycle < phases.setup_end:
        return "setup"
    return "compute" if cycle < phases.compute_end else "readback"


def trace_events(chip: Chip, phases: Phases) -> list[dict[str, Any]]:
    """The trace events of a run: metadata, a span per core activity, a span per link hold."""
    us = 1e6 / chip.config.clock_hz
    events = chip_trace.core_tracks(chip, host=True)
    for tid, agent in [(HOST_TID, chip.host)] + [(core.index + 1, core) for core in chip.cores]:
        events += [
            span(
                CORES_PID,
                tid,
                act.kind,
                act.label or act.kind,
                act.start,
                act.end,
                us,
                {"kind": act.kind, "layer": str(act.segment), "bytes": act.n_bytes},
            )
            for act in agent.activities
        ]
    return events + chip_trace.link_events(chip, lambda start: {"phase": _phase_at(phases, start)})


def phased_trace_json(chip: Chip, phases: Phases, other: dict[str, Any]) -> str:
    """The Chrome trace-event JSON text of a run on ``chip`` with ``phases``; ``other`` says what ran."""
    return chip_trace.trace_json(trace_events(chip, phases), {**other, "clock_hz": chip.config.clock_hz})


def trace_json(result: RunResult) -> str:
    """The Chrome trace-event JSON text of a run."""
    m = result.metrics
    return phased_trace_json(
        result.chip,
        result.phases,
        {"chip": m["chip"], "layers": m["layers"], "strategy": m["strategy"], "broadcast": m["broadcast"]},
    )
