"""How the simulator scales: chip size, SRAM-filling networks, and the number of messages.

Usage: python benchmarks/bench_scale.py [--short] [--runs N] [--chips e16,e64,epiphany-v] [--no-linear]

Part 1, per chip and per shape: a network whose weights fill about half of the chip's
SRAM (all cores together), mapped with the partitioned strategy and run on one sample in
a fresh subprocess: wall seconds (plan + simulate) and the subprocess's peak resident
memory (``ru_maxrss``). Two shapes: two layers ``2m,m,10`` (each core also holds the
input vector and two copies of the hidden vector, so half does not always fit: the
largest fill that fits is used and said) and one layer ``m,2m`` (each core holds its
weights and the input vector only). The target for epiphany-v: at least 8 million
weights in under 2 minutes and 4 GiB.

Part 2: wall seconds against messages sent, for 64,256,10 on e64 at growing batch sizes;
a least-squares line through the points and each point's residual. ``--short``: smaller
networks and fills (a few seconds, for CI).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _bench import bare_simpy_events_per_s, machine, median, spread

TARGET_V_WALL_S = 10.0
TARGET_V_MEMORY_GIB = 4.0
ELEMENT_BYTES = 4


SHAPES = {"2m,m,10": lambda m: [2 * m, m, 10], "m,2m": lambda m: [m, 2 * m]}


def shape_for(chip_name: str, fill: float, shape: str) -> list[int]:
    """Layer sizes of ``shape`` (a key of ``SHAPES``) whose 2m*m weights take ``fill`` of the SRAM."""
    from epiphany_sim import chip_from_name

    chip = chip_from_name(chip_name)
    weights = fill * chip.n_cores * chip.sram_bytes / ELEMENT_BYTES
    return SHAPES[shape](int(math.sqrt(weights / 2)))


def child(chip_name: str, sizes: list[int]) -> None:
    """Plan and simulate one sample; print the figures as one JSON line."""
    from epiphany_sim import chip_from_name
    from nnmap.mapping import plan_for
    from nnmap.model import random_inputs, random_network
    from nnmap.run import simulate

    chip = chip_from_name(chip_name)
    net = random_network(sizes)
    x = random_inputs(net, 1)
    start = time.perf_counter()
    plan = plan_for("partitioned", chip, net, 1)
    planned = time.perf_counter()
    sim = simulate(plan, x)
    end = time.perf_counter()
    weights = sum(layer.weights.size for layer in net.layers)
    print(
        json.dumps(
            {
                "chip": chip_name,
                "layers": sizes,
                "weights": weights,
                "weight_fill": weights * ELEMENT_BYTES / (chip.n_cores * chip.sram_bytes),
                "sram_peak_fill": max(core.sram.peak_bytes for core in sim.session.chip.cores) / chip.sram_bytes,
                "plan_s": planned - start,
                "wall_s": end - start,
                "cycles": sim.phases.readback_end,
                "messages": sim.session.messages(),
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def fits(chip_name: str, sizes: list[int]) -> bool:
    """Whether the partitioned plan of ``sizes`` fits the chip (its own SRAM check)."""
    from epiphany_sim import chip_from_name
    from nnmap.errors import MappingError
    from nnmap.mapping import plan_for
    from nnmap.model import random_network

    try:
        plan_for("partitioned", chip_from_name(chip_name), random_network(sizes), 1)
    except MappingError:
        return False
    return True


def largest_fitting_fill(chip_name: str, wanted: float, shape: str) -> tuple[float, list[int]]:
    """``wanted``, or the largest fill below it (in steps of 0.005) whose network fits."""
    from epiphany_sim import chip_from_name

    chip = chip_from_name(chip_name)
    room = (chip.sram_bytes - chip.code_bytes) / ELEMENT_BYTES
    fill = wanted
    while fill > 0:
        sizes = shape_for(chip_name, fill, shape)
        # per core: its share of the weights, the input vector, two copies of each hidden vector, a margin
        weights = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
        rough = weights / chip.n_cores + sizes[0] + 2 * sum(sizes[1:-1]) + 64
        if rough <= room and fits(chip_name, sizes):
            return fill, sizes
        fill = round(fill - 0.005, 3)
    raise SystemExit(f"no network of the shape {shape} fits {chip_name}")


def run_child(chip_name: str, sizes: list[int]) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", chip_name, ",".join(map(str, sizes))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_chips(chips: list[str], wanted: float, runs: int, shape: str) -> None:
    print(
        f"part 1: a {shape} network whose weights fill {wanted:.0%} of each chip's SRAM, partitioned, "
        f"batch 1; median of {runs} runs, each in a fresh subprocess"
    )
    for chip_name in chips:
        fill, sizes = largest_fitting_fill(chip_name, wanted, shape)
        rows, simpy_rates = [], []
        for _ in range(runs):
            simpy_rates.append(bare_simpy_events_per_s(100_000))
            rows.append(run_child(chip_name, sizes))
        walls = [r["wall_s"] for r in rows]
        rss = [r["maxrss_kib"] / 1024 for r in rows]
        r = rows[-1]
        note = "" if fill == wanted else f" (the largest fill <= {wanted:.0%} that fits: {fill:.1%})"
        print(
            f"  {chip_name}: layers {','.join(map(str, sizes))}{note}: {r['weights']:,} weights = "
            f"{r['weight_fill']:.1%} of SRAM, fullest core {r['sram_peak_fill']:.1%}; "
            f"{r['messages']:,} messages, {r['cycles']:,.0f} cycles"
        )
        print(
            f"    wall seconds: {median(walls):.2f} (runs {spread(walls)}; planning {r['plan_s']:.2f}); "
            f"peak memory: {median(rss):,.0f} MiB; bare simpy loop {median(simpy_rates):,.0f} events/s"
        )
        if chip_name == "epiphany-v" and shape == "2m,m,10" and wanted >= 0.5:
            gib = median(rss) / 1024
            print(
                f"    target (< {TARGET_V_WALL_S:.0f} s, < {TARGET_V_MEMORY_GIB:g} GiB): "
                f"time {'met' if median(walls) < TARGET_V_WALL_S else 'NOT met'}, "
                f"memory {'met' if gib < TARGET_V_MEMORY_GIB else 'NOT met'}"
            )


def part_linear(chip_name: str, sizes: list[int], batches: list[int], runs: int) -> None:
    from epiphany_sim import chip_from_name
    from nnmap.mapping import plan_for
    from nnmap.model import random_inputs, random_network
    from nnmap.run import simulate

    chip = chip_from_name(chip_name)
    net = random_network(sizes)
    print(
        f"part 2: wall seconds against messages, {','.join(map(str, sizes))} on {chip_name}, "
        f"batch {', '.join(map(str, batches))}; median of {runs} runs per point"
    )
    messages, walls = [], []
    for batch in batches:
        x = random_inputs(net, batch)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            sim = simulate(plan_for("partitioned", chip, net, batch), x)
            times.append(time.perf_counter() - start)
        messages.append(sim.session.messages())
        walls.append(median(times))
    m, w = np.array(messages, dtype=float), np.array(walls)
    slope, intercept = np.polyfit(m, w, 1)
    fitted = slope * m + intercept
    residual = w - fitted
    r2 = 1 - float(np.sum(residual**2) / np.sum((w - w.mean()) ** 2))
    print(f"  least squares: wall = {intercept:.4f} s + {slope * 1e6:.3f} us x messages; R^2 = {r2:.4f}")
    print("  messages    wall s   fitted s   residual s  residual %")
    for mi, wi, fi, ri in zip(messages, walls, fitted, residual, strict=True):
        print(f"  {mi:>8,}  {wi:8.3f}  {fi:9.3f}  {ri:+11.3f}  {100 * ri / wi:+9.1f}")
    print(f"  largest |residual|: {np.max(np.abs(residual) / w):.1%} of the point's wall time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="small fills and networks: a few seconds (for CI)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chips", default="e16,e64,epiphany-v", help="chips of part 1 (empty: skip part 1)")
    parser.add_argument("--no-linear", action="store_true", help="skip part 2")
    parser.add_argument("--child", nargs=2, metavar=("CHIP", "LAYERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], [int(v) for v in args.child[1].split(",")])
        return
    print(machine())
    if args.short:
        for shape in SHAPES:
            part_chips(["e16", "e64"], 0.02, 1, shape)
        part_linear("e16", [16, 48, 10], [1, 2, 3, 4], 1)
    else:
        for shape in SHAPES if args.chips else []:
            part_chips(args.chips.split(","), 0.5, args.runs, shape)
        if not args.no_linear:
            part_linear("e64", [64, 256, 10], [1, 2, 4, 8, 12, 16], args.runs)


if __name__ == "__main__":
    main()
