"""Chrome trace-event files of a chip run (they open in Perfetto or chrome://tracing).

The format is the JSON object form of the Trace Event Format: ``{"traceEvents": [...]}``
where a complete event (``"ph": "X"``) is a span with ``ts`` and ``dur`` in microseconds,
and metadata events (``"ph": "M"``) name processes (``pid``) and tracks (``tid``).

Layout used here: process ``CORES_PID`` holds one track per core (tid ``index + 1``) and,
when the host took part, a host track (tid ``HOST_TID``); process ``LINKS_PID`` holds one
track per link that carried anything (tid = the link's index in ``Fabric.links``). Times
are microseconds of simulated time at the chip's clock; every span's ``args`` keep the
exact ``start_cycles`` and ``cycles`` so nothing is lost to rounding. Link activity needs
a chip built with a trace (``epiphany_sim.fabric.TraceOptions``): a span per transaction
on each link within the trace's window (back-to-back transactions of one message merged
into one span), or one counter per link of its utilisation in each bin.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from epiphany_sim.chip import Chip

CORES_PID = 1
LINKS_PID = 2
HOST_TID = 0


def span(
    pid: int, tid: int, cat: str, name: str, start: float, end: float, us_per_cycle: float, args: dict[str, Any]
) -> dict[str, Any]:
    """One complete event from ``start`` to ``end`` cycles, with the exact cycles in ``args``."""
    return {
        "ph": "X",
        "pid": pid,
        "tid": tid,
        "cat": cat,
        "name": name,
        "ts": start * us_per_cycle,
        "dur": (end - start) * us_per_cycle,
        "args": {**args, "start_cycles": start, "cycles": end - start},
    }


def _thread_name(pid: int, tid: int, name: str) -> list[dict[str, Any]]:
    return [
        {"ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": {"name": name}},
        {"ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": tid}},
    ]


def core_tracks(chip: Chip, host: bool) -> list[dict[str, Any]]:
    """Metadata naming the cores process and one track per core (and the host's, if asked)."""
    events = [{"ph": "M", "pid": CORES_PID, "name": "process_name", "args": {"name": f"cores of {chip.config.name}"}}]
    if host:
        events += _thread_name(CORES_PID, HOST_TID, "host")
    for core in chip.cores:
        events += _thread_name(CORES_PID, core.index + 1, f"core {core.index} {core.coord}")
    return events


def _merged(spans: list[tuple[int, float, float]], n_bytes: int) -> list[tuple[int, float, float, int]]:
    """One message's spans as ``(link, start, end, bytes)``, back-to-back transactions on the
    same link joined; a message's transactions cross each link in order, 8 bytes each but the last."""
    out: list[tuple[int, float, float, int]] = []
    sent: dict[int, int] = {}
    for index, start, end in sorted(spans):
        k = sent.get(index, 0)
        sent[index] = k + 1
        payload = max(0, min(8, n_bytes - 8 * k))
        if out and out[-1][0] == index and out[-1][2] == start:
            out[-1] = (index, out[-1][1], end, out[-1][3] + payload)
        else:
            out.append((index, start, end, payload))
    return out


def link_events(chip: Chip, label_args: Callable[[float], dict[str, Any]] = lambda start: {}) -> list[dict[str, Any]]:
    """A track per link that carried anything: its spans, or its utilisation per bin.

    ``label_args(start_cycle)`` adds fields to each span's ``args`` (for example the phase
    of the run the span falls in).
    """
    fabric, us = chip.fabric, 1e6 / chip.config.clock_hz
    events = [{"ph": "M", "pid": LINKS_PID, "name": "process_name", "args": {"name": "links"}}]
    used: set[int] = set()
    options = fabric.trace
    if options is not None and options.window is not None:
        for transfer in fabric.traced_transfers():
            args = {"src": str(transfer.src), "dst": str(transfer.dst)}
            for index, start, end, n_bytes in _merged(transfer.link_spans, transfer.n_bytes):
                used.add(index)
                events.append(
                    span(
                        LINKS_PID,
                        index,
                        fabric.links[index].kind,
                        transfer.label or "transfer",
                        start,
                        end,
                        us,
                        {"bytes": n_bytes, **args, **label_args(start)},
                    )
                )
    if options is not None and options.bin_cycles:
        width, busy = fabric.busy_bins()
        for index in np.flatnonzero(busy.sum(axis=1)).tolist():
            used.add(index)
            name = fabric.links[index].name
            events += [
                {
                    "ph": "C",
                    "pid": LINKS_PID,
                    "tid": index,
                    "name": name,
                    "ts": b * width * us,
                    "args": {"utilisation": cycles / width},
                }
                for b, cycles in enumerate(busy[index].tolist())
            ]
    for index in sorted(used):
        events += _thread_name(LINKS_PID, index, fabric.links[index].name)
    return events


def trace_json(events: Iterable[dict[str, Any]], other: dict[str, Any]) -> str:
    """The trace file's text: the events and ``other`` (what was run) as ``otherData``."""
    return json.dumps(
        {
            "traceEvents": list(events),
            "displayTimeUnit": "ns",
            "otherData": {**other, "time_unit": "us of simulated time"},
        }
    )
