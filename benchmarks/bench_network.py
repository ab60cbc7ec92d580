"""Speed of the network model: delivered transactions per wall-second, median of runs.

Usage: python benchmarks/bench_network.py [--short] [--runs N]
Workload: uniform synthetic traffic at 0.2 transactions per core per cycle on the 8x8
e64 for 20,000 cycles (target: at least 300,000 delivered transactions per
wall-second), next to the event rate of a bare simpy timeout loop measured in the same
run, which shows how fast this machine runs simpy at all. ``--short``: 2,000 cycles.
"""

from __future__ import annotations

import argparse
import time

import simpy
from _bench import machine, median, spread

from epiphany_sim import E64, Chip
from epiphany_sim.traffic import TrafficSpec, run_traffic

TARGET_TX_PER_S = 300_000


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
    parser.add_argument("--short", action="store_true", help="2,000 cycles, 3 runs: a few seconds (for CI)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs, cycles, loop_events = (3, 2_000, 50_000) if args.short else (args.runs, 20_000, 200_000)
    walls, cpus, rates, simpy_rates = [], [], [], []
    for run in range(runs):
        simpy_rates.append(bare_simpy_events_per_s(loop_events))
        chip = Chip(E64)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run_traffic(chip, TrafficSpec("uniform", 0.2, cycles, seed=run))
        wall = time.perf_counter() - start
        cpus.append(time.process_time() - start_cpu)
        walls.append(wall)
        rates.append(chip.network.messages_delivered / wall)
    tx_per_s = median(rates)
    print(machine())
    print(
        f"workload: uniform at 0.2 on {E64.name} (8x8) for {cycles} cycles, seeds 0..{runs - 1}; median of {runs} runs"
    )
    print(
        f"wall seconds: {median(walls):.3f} (runs {spread(walls)}); CPU seconds of this process: "
        f"{median(cpus):.3f} (on a shared machine the gap is time other processes took)"
    )
    print(
        f"delivered transactions (last run): {chip.network.messages_delivered:,}; accepted rate "
        f"{result.accepted_rate:.4f}, mean latency {result.avg_latency_cycles:.2f} cycles"
    )
    print(
        f"delivered transactions per wall-second: {tx_per_s:,.0f} (runs {spread(rates)}; "
        f"target {TARGET_TX_PER_S:,}: {'met' if tx_per_s >= TARGET_TX_PER_S else 'NOT met'})"
    )
    print(
        f"delivered transactions per CPU-second: {chip.network.messages_delivered / median(cpus):,.0f} (last run's "
        f"count over the median CPU time)"
    )
    print(f"bare simpy timeout loop, events per wall-second: {median(simpy_rates):,.0f} (runs {spread(simpy_rates)})")
    print(f"delivered transactions per bare simpy event time: {tx_per_s / median(simpy_rates):.3f}")


if __name__ == "__main__":
    main()
