"""Forward-pass speed of the mapper: wall seconds for one mapped network, median of runs.

Usage: python benchmarks/bench_forward.py [--quick] [--runs N]
Default workload: 64,256,10 on e64, batch 32, partitioned (issue 6's target: < 5 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from epiphany_sim import chip_from_name
from nnmap.model import random_inputs, random_network
from nnmap.run import simulate
from nnmap.strategies import get_strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batch and 2 runs (for CI)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chip", default="e64")
    parser.add_argument("--layers", default="64,256,10")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    runs, batch = (2, 2) if args.quick else (args.runs, args.batch)
    chip = chip_from_name(args.chip)
    net = random_network([int(v) for v in args.layers.split(",")])
    x = random_inputs(net, batch)
    walls, plan_walls = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        plan = get_strategy("partitioned").plan(chip, net, batch)
        t1 = time.perf_counter()
        sim_chip, phases, _, _ = simulate(plan, x)
        t2 = time.perf_counter()
        plan_walls.append(t1 - t0)
        walls.append(t2 - t0)
    wall = statistics.median(walls)
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cpus")
    print(f"workload: {args.layers} on {chip.name}, batch {batch}, partitioned/bidir; median of {runs} runs")
    print(f"wall seconds (plan + simulate): {wall:.3f}  (plan alone {statistics.median(plan_walls):.3f})")
    print(f"simulated cycles: {phases.readback_end:.0f}; messages: {sim_chip.network.messages_sent}")
    print(f"simulated cycles per wall-second: {phases.readback_end / wall:,.0f}")
    print(f"messages per wall-second: {sim_chip.network.messages_sent / wall:,.0f}")


if __name__ == "__main__":
    main()
