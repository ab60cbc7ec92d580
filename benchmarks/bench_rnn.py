"""Stacked recurrent networks: the wavefront order against the serial one, on e16 and e64.

Usage: python benchmarks/bench_rnn.py [--short]

For each chip (e16, e64) and shape (L Elman layers of H units over N inputs, T steps;
seeded weights and inputs), ``nnmap.recurrent.run.run_orders`` runs both orders, each
validated against numpy. Each row: the layers' group sizes, the compute-phase cycles of the
serial order (one cell at a time) and of the wavefront (the cells of a diagonal band
together), the wavefront's speedup, the ideal ``L T / (L + T - 1)`` and their ratio. Last,
the wall time of the whole benchmark and the simulated cycles per wall-second, beside a
bare simpy loop's events per wall-second (the machine is shared: that rate says how fast
it runs Python at all). ``--short``: one small shape per chip.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _bench import bare_simpy_events_per_s, machine

from epiphany_sim import chip_from_name
from nnmap.recurrent.model import random_sequence, random_stack
from nnmap.recurrent.run import run_orders
from nnmap.text import table

CHIPS = ["e16", "e64"]
SHAPES = [(3, 32, 32, 16), (2, 64, 32, 16), (4, 32, 16, 32), (3, 64, 64, 8), (8, 16, 16, 16)]
SHORT_SHAPES = [(3, 16, 16, 8)]


def wavefront(shapes: list[tuple[int, int, int, int]]) -> list[dict[str, Any]]:
    """Both orders of every shape on every chip, validated: one dict of figures per run."""
    results = []
    for name in CHIPS:
        chip = chip_from_name(name)
        for depth, hidden, n_in, steps in shapes:
            stack = random_stack(depth, hidden, n_in, seed=1)
            m = run_orders(chip, stack, random_sequence(stack, steps, seed=1)).metrics
            results.append(
                {
                    "chip": name,
                    "layers": depth,
                    "hidden": hidden,
                    "inputs": n_in,
                    "steps": steps,
                    "groups": [b - a + 1 for a, b in m["group_chain_positions"]],
                    "serial_cycles": m["serial"]["compute_cycles"],
                    "wavefront_cycles": m["wavefront"]["compute_cycles"],
                    "simulated_cycles": sum(m[order]["total_cycles"] for order in ("serial", "wavefront")),
                    **{key: m[key] for key in ("speedup", "ideal_speedup", "ratio_to_ideal", "validated")},
                }
            )
    return results


def wavefront_table(results: list[dict[str, Any]]) -> str:
    header = ["chip", "L", "H", "N", "T", "groups", "serial cyc", "wavefront cyc", "speedup", "ideal", "ratio", "valid"]
    rows = [
        [
            r["chip"],
            *(str(r[key]) for key in ("layers", "hidden", "inputs", "steps")),
            ",".join(map(str, r["groups"])),
            f"{r['serial_cycles']:.0f}",
            f"{r['wavefront_cycles']:.0f}",
            f"{r['speedup']:.2f}x",
            f"{r['ideal_speedup']:.2f}x",
            f"{r['ratio_to_ideal']:.2f}",
            "yes" if r["validated"] else "NO",
        ]
        for r in results
    ]
    validated = sum(r["validated"] for r in results)
    return "\n".join(
        [
            "compute-phase cycles of both orders; speedup = serial / wavefront; ideal = L*T/(L+T-1)",
            table(header, rows),
            f"runs: {len(rows)}, validated against numpy: {validated}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="one small shape per chip: seconds (for CI)")
    args = parser.parse_args()
    start = time.perf_counter()
    results = wavefront(SHORT_SHAPES if args.short else SHAPES)
    wall = time.perf_counter() - start
    print(machine())
    print(wavefront_table(results))
    print(f"wall seconds: {wall:.2f} (both orders of every shape, planning included)")
    print(f"simulated cycles per wall-second: {sum(r['simulated_cycles'] for r in results) / wall:,.0f}")
    print(f"bare simpy timeout loop, events per wall-second: {bare_simpy_events_per_s(100_000):,.0f}")


if __name__ == "__main__":
    main()
