"""Speed of the fabric: delivered transactions per wall-second, median of runs.

Usage: python benchmarks/bench_network.py [--short] [--runs N]
Workload: uniform synthetic traffic at 0.2 transactions per core per cycle on the 8x8
e64 for a 20,000-cycle window (after the default warm-up and before the default drain;
target: at least 1,000,000 delivered transactions per wall-second), next to the event
rate of a bare simpy timeout loop measured in the same run, which shows how fast this
machine runs Python at all. The one-time compilation of the fabric is timed apart, in a
fresh process with an empty cache. ``--short``: a 2,000-cycle window, and no compilation timing
(a cold compilation takes a minute: the full run measures it).
"""

from __future__ import annotations

import argparse
import time

from _bench import bare_simpy_events_per_s, first_run_seconds, machine, median, spread

from epiphany_sim import E64, Chip
from epiphany_sim.traffic import TrafficSpec, run_traffic

TARGET_TX_PER_S = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="2,000 cycles, 3 runs: a few seconds (for CI)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs, cycles, loop_events = (3, 2_000, 50_000) if args.short else (args.runs, 20_000, 200_000)
    first_run = None if args.short else first_run_seconds()
    walls, cpus, rates, simpy_rates = [], [], [], []
    for run in range(runs):
        simpy_rates.append(bare_simpy_events_per_s(loop_events))
        chip = Chip(E64, record=True)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run_traffic(chip, TrafficSpec("uniform", 0.2, cycles, seed=run))
        wall = time.perf_counter() - start
        cpus.append(time.process_time() - start_cpu)
        walls.append(wall)
        rates.append(chip.fabric.messages_delivered / wall)
    tx_per_s = median(rates)
    print(machine())
    print(
        f"workload: uniform at 0.2 on {E64.name} (8x8), a {cycles}-cycle window, seeds 0..{runs - 1}; "
        f"median of {runs} runs"
    )
    if first_run is None:
        print("one-time compilation: not timed with --short")
    else:
        print(
            f"one-time compilation: a new process's first tiny run takes {first_run[0]:.1f} s on an empty cache, "
            f"{first_run[1]:.2f} s on the cache it left"
        )
    print(
        f"wall seconds: {median(walls):.3f} (runs {spread(walls)}); CPU seconds of this process: "
        f"{median(cpus):.3f} (on a shared machine the gap is time other processes took)"
    )
    print(
        f"delivered transactions (last run): {chip.fabric.messages_delivered:,}; accepted rate "
        f"{result.accepted_rate:.4f}, mean latency {result.avg_latency_cycles:.2f} cycles"
    )
    print(
        f"delivered transactions per wall-second: {tx_per_s:,.0f} (runs {spread(rates)}; "
        f"target {TARGET_TX_PER_S:,}: {'met' if tx_per_s >= TARGET_TX_PER_S else 'NOT met'})"
    )
    print(
        f"delivered transactions per CPU-second: {chip.fabric.messages_delivered / median(cpus):,.0f} (last run's "
        f"count over the median CPU time)"
    )
    print(f"bare simpy timeout loop, events per wall-second: {median(simpy_rates):,.0f} (runs {spread(simpy_rates)})")
    print(f"delivered transactions per bare simpy event time: {tx_per_s / median(simpy_rates):.3f}")


if __name__ == "__main__":
    main()
