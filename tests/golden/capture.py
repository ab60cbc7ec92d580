"""Golden results: every simulated number of a few mapper and traffic runs, as plain data.

``tests/test_golden.py`` runs each case of ``CASES`` and compares what ``capture`` returns
with ``tests/golden/<case>.json``, exactly: cycles, per-core activities and time splits,
per-link tables and phase snapshots, per-transfer timings, outputs, traffic latencies.
Nothing measured in wall-clock time is recorded.

Regenerate the files only for a deliberate change of the model (a new timing rule, a fixed
modelling bug), never to make an optimisation pass::

    python tests/golden/capture.py            # rewrite every file
    python tests/golden/capture.py CASE ...   # rewrite the named cases

and say in the commit which simulated numbers changed and why.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from epiphany_sim import Chip, chip_from_name
from epiphany_sim.stats import link_table, summary
from epiphany_sim.traffic import TrafficSpec, run_traffic
from nnmap.model import random_inputs, random_network
from nnmap.run import run

GOLDEN_DIR = Path(__file__).parent


def _digest(rows: list) -> str:
    """SHA-256 of a list of records, in order (floats by ``repr``, which round-trips exactly)."""
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _activities(agent: Any) -> dict[str, Any]:
    """Every activity of a core or the host: a digest of all, and the first few in full.

    Times are taken as Python floats: a cycle count is the same number whether the simulation
    carried it as an int, a float or a numpy float (whose ``repr`` differs between numpy versions).
    """
    rows = [[a.kind, float(a.start), float(a.end), a.label, str(a.segment), a.n_bytes] for a in agent.activities]
    return {"count": len(rows), "sha256": _digest(rows), "first": rows[:8]}


def _transfers(chip: Chip) -> list[list]:
    return [
        [
            list(t.src),
            list(t.dst),
            t.n_bytes,
            t.sent_at,
            t.injected_at,
            t.delivered_at,
            t.wait_cycles,
            t.hops,
            t.label,
            [list(span) for span in t.link_spans],
        ]
        for t in chip.fabric.transfers
    ]


def nnmap_case(
    chip: str,
    layers: list[int],
    strategy: str,
    broadcast: str | None = None,
    batch: int = 2,
    trace: bool = False,
    baseline: bool = False,
) -> dict[str, Any]:
    """Everything simulated in one mapped forward pass (setup, compute and readback)."""
    net = random_network(layers, seed=3)
    x = random_inputs(net, batch, seed=3)
    result = run(chip_from_name(chip), net, strategy, x, broadcast, trace=trace, baseline=baseline)
    sim = result.chip
    record: dict[str, Any] = {
        "metrics": result.metrics,
        "phases": vars(result.phases),
        "outputs": result.outputs.astype(np.float64).tolist(),
        "link_snapshots": result.link_snapshots,
        "summary": summary(sim),
        "core_activities": [_activities(core) for core in sim.cores],
        "host_activities": _activities(sim.host),
        "core_totals": [core.totals for core in sim.cores],
    }
    if trace:
        transfers = _transfers(sim)
        record["transfers"] = {
            "count": len(transfers),
            "sha256": _digest(transfers),
            "first": transfers[:20],
            "last": transfers[-20:],
        }
    return record


def traffic_case(chip: str, pattern: str, rate: float, cycles: int, seed: int = 1, **spec: int) -> dict[str, Any]:
    """A synthetic traffic run: its result, the full link table and every transaction's timing.

    ``spec`` sets the ``TrafficSpec``'s other fields (``warmup_cycles``, ``drain_cycles``) where
    their defaults would make the run too long.
    """
    sim = Chip(chip_from_name(chip), trace=True)
    result = run_traffic(sim, TrafficSpec(pattern, rate, cycles, seed=seed, **spec))
    net = sim.fabric
    timings = [[t.sent_at, t.injected_at, t.delivered_at, t.wait_cycles, t.hops] for t in net.transfers]
    return {
        "result": result.to_dict(),
        "links": link_table(net, sim.env.now, only_used=True),
        "totals": [net.messages_sent, net.messages_delivered, net.bytes_injected, net.bytes_delivered],
        "end_cycle": sim.env.now,
        "latency_histogram": sorted(Counter(t.delivered_at - t.sent_at for t in net.transfers).items()),
        "transfers": {"count": len(timings), "sha256": _digest(timings), "first": timings[:20], "last": timings[-20:]},
    }


def untraced_traffic_case(chip: str, pattern: str, rate: float, cycles: int, seed: int = 1) -> dict[str, Any]:
    """The same measures without link spans (the path the benchmarks time)."""
    sim = Chip(chip_from_name(chip), record=True)
    result = run_traffic(sim, TrafficSpec(pattern, rate, cycles, seed=seed))
    net = sim.fabric
    return {
        "result": result.to_dict(),
        "links": link_table(net, sim.env.now, only_used=True),
        "totals": [net.messages_sent, net.messages_delivered, net.bytes_injected, net.bytes_delivered],
        "end_cycle": sim.env.now,
    }


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "e16_partitioned_bidir": lambda: nnmap_case("e16", [6, 16, 4], "partitioned", "bidir", baseline=True),
    "e16_partitioned_oneway": lambda: nnmap_case("e16", [6, 16, 4], "partitioned", "oneway"),
    "e16_partitioned_dram": lambda: nnmap_case("e16", [6, 16, 4], "partitioned", "dram"),
    "e16_node_per_core": lambda: nnmap_case("e16", [6, 20, 4], "node-per-core"),
    "e16_round_robin": lambda: nnmap_case("e16", [6, 16, 4], "round-robin"),
    "e16_allgather": lambda: nnmap_case("e16", [6, 16, 4], "allgather"),
    "e16_partitioned_bidir_traced": lambda: nnmap_case("e16", [5, 12, 7, 3], "partitioned", "bidir", trace=True),
    "e64_partitioned_bidir": lambda: nnmap_case("e64", [16, 40, 10], "partitioned", "bidir", baseline=True),
    "e64_partitioned_oneway": lambda: nnmap_case("e64", [16, 40, 10], "partitioned", "oneway"),
    "e64_partitioned_dram": lambda: nnmap_case("e64", [16, 40, 10], "partitioned", "dram"),
    "e64_round_robin": lambda: nnmap_case("e64", [12, 24, 6], "round-robin"),
    "e64_allgather_traced": lambda: nnmap_case("e64", [12, 24, 6], "allgather", trace=True),
    "mesh2x3_partitioned_bidir": lambda: nnmap_case("2x3", [9, 13, 4], "partitioned", "bidir"),
    "mesh2x3_node_per_core": lambda: nnmap_case("2x3", [9, 13, 4], "node-per-core"),
    "mesh2x3_allgather": lambda: nnmap_case("2x3", [9, 13, 4], "allgather"),
    "traffic_e16_uniform": lambda: traffic_case("e16", "uniform", 0.3, 3000),
    "traffic_e16_hotspot": lambda: traffic_case("e16", "hotspot", 0.2, 3000),
    "traffic_e64_uniform": lambda: traffic_case("e64", "uniform", 0.2, 2000),
    "traffic_e64_hotspot_saturated": lambda: traffic_case("e64", "hotspot", 0.5, 2000, seed=2),
    "traffic_e64_uniform_untraced": lambda: untraced_traffic_case("e64", "uniform", 0.2, 2000),
}


def normalise(data: Any) -> Any:
    """``data`` as JSON would give it back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(data))


def path_of(case: str) -> Path:
    return GOLDEN_DIR / f"{case}.json"


def write(case: str) -> Path:
    path = path_of(case)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(CASES[case](), separators=(",", ":"), sort_keys=True) + "\n")
    return path


def main(argv: list[str]) -> int:
    names = argv or list(CASES)
    unknown = [name for name in names if name not in CASES]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    for name in names:
        path = write(name)
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
