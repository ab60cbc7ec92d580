"""Speed of the network model: delivered transactions per wall-second, median of runs.

Usage: python benchmarks/bench_network.py [--quick] [--runs N]
Workload: uniform synthetic traffic at 0.2 transactions per core per cycle on the 8x8
e64 for 20,000 cycles (issue 2's target: at least 100,000 delivered transactions per
wall-second), next to the raw event rate of a bare simpy timeout loop on the same machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import simpy

from epiphany_sim import E64, Chip
from epiphany_sim.traffic import TrafficSpec, run_traffic

TARGET_TX_PER_S = 100_000


def bare_simpy_events_per_s(n_events: int) -> float:
    """Events per wall-second of one process that only yields ``timeout(1)``."""

    def loop(env: simpy.Environment):
        for _ in range(n_events):
            yield env.timeout(1)

    env = simpy.Environment()
    env.process(loop(env))
    start = time.perf_counter()
    env.run()
    return n_events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 cycles and 2 runs")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs, cycles = (2, 2_000) if args.quick else (args.runs, 20_000)
    walls, delivered, simpy_rates = [], [], []
    for run in range(runs):
        simpy_rates.append(bare_simpy_events_per_s(200_000))
        chip = Chip(E64)
        start = time.perf_counter()
        result = run_traffic(chip, TrafficSpec("uniform", 0.2, cycles, seed=run))
        walls.append(time.perf_counter() - start)
        delivered.append(chip.network.messages_delivered)
    wall = statistics.median(walls)
    tx_per_s = statistics.median(d / w for d, w in zip(delivered, walls, strict=True))
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cpus")
    print(f"workload: uniform at 0.2 on {E64.name} (8x8) for {cycles} cycles; median of {runs} runs")
    print(f"wall seconds: {wall:.3f}")
    print(f"delivered transactions: {statistics.median(delivered):,.0f} "
          f"(last run: accepted rate {result.accepted_rate:.4f}, avg latency {result.avg_latency_cycles:.2f} cycles)")
    print(f"delivered transactions per wall-second: {tx_per_s:,.0f} "
          f"(target {TARGET_TX_PER_S:,}: {'met' if tx_per_s >= TARGET_TX_PER_S else 'NOT met'})")
    print(f"bare simpy timeout loop, events per wall-second: {statistics.median(simpy_rates):,.0f}")


if __name__ == "__main__":
    main()
