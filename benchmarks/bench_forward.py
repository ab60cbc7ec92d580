"""Forward-pass speed of the mapper: wall seconds for one mapped network, median of runs.

Usage: python benchmarks/bench_forward.py [--short] [--runs N] [--chip C] [--layers L] [--batch B]
Default workload: 64,256,10 on e64, batch 32, partitioned with the bidir broadcast
(target: under 1 wall second, planning included). ``--short``: batch 2.
"""

from __future__ import annotations

import argparse
import time

from _bench import bare_simpy_events_per_s, machine, median, spread

from epiphany_sim import chip_from_name
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.run import simulate

TARGET_WALL_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="batch 2, 3 runs: a few seconds (for CI)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chip", default="e64")
    parser.add_argument("--layers", default="64,256,10")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    runs, batch = (3, 2) if args.short else (args.runs, args.batch)
    chip = chip_from_name(args.chip)
    net = random_network([int(v) for v in args.layers.split(",")])
    x = random_inputs(net, batch)
    walls, plan_walls, cpus, simpy_rates = [], [], [], []
    for _ in range(runs):
        simpy_rates.append(bare_simpy_events_per_s(20_000 if args.short else 200_000))
        t0, cpu0 = time.perf_counter(), time.process_time()
        plan = plan_for("partitioned", chip, net, batch)
        t1 = time.perf_counter()
        sim = simulate(plan, x)
        t2 = time.perf_counter()
        cpus.append(time.process_time() - cpu0)
        plan_walls.append(t1 - t0)
        walls.append(t2 - t0)
    wall = median(walls)
    cycles = sim.phases.readback_end
    messages = sim.session.messages()
    print(machine())
    print(f"workload: {args.layers} on {chip.name}, batch {batch}, partitioned/bidir; median of {runs} runs")
    print(
        f"wall seconds (plan + simulate): {wall:.3f} (runs {spread(walls)}; plan alone "
        f"{median(plan_walls):.3f}; target < {TARGET_WALL_S:g} s"
        f"{'' if args.short else (': met' if wall < TARGET_WALL_S else ': NOT met')})"
    )
    print(
        f"CPU seconds of this process (plan + simulate): {median(cpus):.3f} (runs {spread(cpus)}; on a shared "
        f"machine the gap to wall time is time other processes took)"
    )
    print(f"simulated cycles: {cycles:,.0f}; messages: {messages:,}")
    print(f"simulated cycles per wall-second: {cycles / wall:,.0f}")
    print(f"messages per wall-second: {messages / wall:,.0f}")
    print(f"bare simpy timeout loop, events per wall-second: {median(simpy_rates):,.0f} (runs {spread(simpy_rates)})")


if __name__ == "__main__":
    main()
