"""Sparse networks: the graph cut against the contiguous ranges, over sparsity and pattern, on e16 and e64.

Usage: python benchmarks/bench_sparse.py [--short] [--plot FILE.png] [--json FILE]

For each chip (e16, e64), pattern and sparsity (0.5 to 0.99), the network 64,256,256,10
(seeded weights and mask, one sample) runs with three mappings, each validated against
numpy:

- ``graph-cut/targeted``: neurons partitioned along the graph, placed on the mesh, each
  value sent only to the cores that read it;
- ``partitioned/bidir``: the blog post's contiguous product ranges, every value relayed to
  every core;
- ``partitioned/targeted``: the same contiguous ranges, each value sent only to its readers,
  which separates what the cut brings from what the broadcast costs.

Patterns: ``random``, ``block`` and ``banded`` (``nnmap.sparsity``), and ``block-shuffled``:
the block network with its hidden neurons renumbered at random (``shuffle_hidden``), the
same function whose blocks are no longer in index order.

Each row: compute-phase cycles, speedup over one core, bytes on chip in the compute phase,
connections cut, bytes x hops and the busiest core's multiply-adds over the mean. Then, per
chip and pattern, graph-cut's compute cycles against each contiguous variant's, and last
the wall time of one graph-cut run of a 90%-sparse 256,256,10 network on e64 (target: under
10 s). ``--plot`` draws speedup and bytes against sparsity. ``--short``: e16 only, the
network 32,64,64,10, sparsities 0.5 and 0.9, patterns random and block-shuffled.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from _bench import machine, median, spread

from epiphany_sim import chip_from_name
from epiphany_sim.files import check_output_path, write_atomic, write_json
from nnmap.analysis import variant_of
from nnmap.model import Network, random_inputs, random_network
from nnmap.run import run
from nnmap.sparsity import shuffle_hidden, sparsify
from nnmap.text import table

VARIANTS = [("graph-cut", "targeted"), ("partitioned", "bidir"), ("partitioned", "targeted")]
MASK_PATTERNS = ["random", "block", "banded", "block-shuffled"]
SPARSITIES = [0.5, 0.75, 0.9, 0.95, 0.99]
LAYERS = [64, 256, 256, 10]
TIMED_LAYERS = [256, 256, 10]
TIMED_SPARSITY = 0.9
TARGET_WALL_S = 10.0


def network(sizes: list[int], pattern: str, sparsity: float) -> Network:
    """The seeded network of ``pattern`` (``block-shuffled``: ``block`` with its hidden neurons renumbered)."""
    base = pattern.removesuffix("-shuffled")
    net = sparsify(random_network(sizes, seed=1), sparsity, base, seed=2)
    return shuffle_hidden(net, seed=3) if pattern != base else net


def sweep(chips: list[str], patterns: list[str], sparsities: list[float], sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for chip_name in chips:
        chip = chip_from_name(chip_name)
        for pattern in patterns:
            for sparsity in sparsities:
                net = network(sizes, pattern, sparsity)
                x = random_inputs(net, 1, seed=4)
                for strategy, broadcast in VARIANTS:
                    record = run(chip, net, strategy, x, broadcast).metrics
                    rows.append({**record, "pattern": pattern, "sparsity": sparsity})
                    print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def runs_table(rows: list[dict[str, Any]]) -> str:
    header = ["chip", "pattern", "sparsity", "mapping", "compute cyc", "speedup", "on-chip B", "cut edges"]
    header += ["hop x B", "imbalance", "valid"]
    lines = [
        [
            r["chip"],
            r["pattern"],
            f"{r['sparsity']:.2f}",
            variant_of(r),
            f"{r['compute_cycles']:.0f}",
            f"{r['speedup']:.2f}x",
            str(r["compute_bytes_on_chip"]),
            str(r["edges_cut"]),
            str(r["hop_bytes"]),
            f"{r['imbalance']:.2f}",
            "yes" if r["validated"] else "NO",
        ]
        for r in rows
    ]
    return table(header, lines)


def ratios_table(rows: list[dict[str, Any]]) -> str:
    """Per chip and pattern: each contiguous variant's compute cycles over graph-cut's (above 1:
    graph-cut is faster), geometric mean over the sparsities, and the lowest and highest."""
    cycles = {(r["chip"], r["pattern"], r["sparsity"], variant_of(r)): r["compute_cycles"] for r in rows}
    keys = sorted({(r["chip"], r["pattern"]) for r in rows}, key=[(r["chip"], r["pattern"]) for r in rows].index)
    lines = []
    for chip, pattern in keys:
        cells = [chip, pattern]
        for other in ("partitioned/bidir", "partitioned/targeted"):
            ratios = [
                cycles[(chip, pattern, s, other)] / cycles[(chip, pattern, s, "graph-cut/targeted")]
                for (c, p, s, v) in cycles
                if (c, p, v) == (chip, pattern, other)
            ]
            mean = math.exp(sum(map(math.log, ratios)) / len(ratios))
            cells.append(f"{mean:.2f}x ({min(ratios):.2f} .. {max(ratios):.2f})")
        lines.append(cells)
    header = ["chip", "pattern", "partitioned/bidir over graph-cut", "partitioned/targeted over graph-cut"]
    return table(header, lines)


def timed_run(runs: int) -> tuple[list[float], dict[str, Any]]:
    """Wall seconds of whole graph-cut runs (partition, place, plan, simulate, validate, one-core baseline)."""
    chip = chip_from_name("e64")
    net = sparsify(random_network(TIMED_LAYERS, seed=1), TIMED_SPARSITY, "random", seed=2)
    x = random_inputs(net, 1, seed=4)
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        record = run(chip, net, "graph-cut", x).metrics
        walls.append(time.perf_counter() - start)
    return walls, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="e16, a small network, two sparsities (for CI)")
    parser.add_argument("--plot", metavar="FILE.png", help="draw speedup and bytes against sparsity")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures as JSON")
    args = parser.parse_args()
    check_output_path(args.plot)
    check_output_path(args.json)
    if args.short:
        chips, patterns, sparsities, sizes = ["e16"], ["random", "block-shuffled"], [0.5, 0.9], [32, 64, 64, 10]
    else:
        chips, patterns, sparsities, sizes = ["e16", "e64"], MASK_PATTERNS, SPARSITIES, LAYERS
    print(machine())
    print(f"network {','.join(map(str, sizes))}, one sample; mappings {', '.join(f'{s}/{b}' for s, b in VARIANTS)}")
    start = time.perf_counter()
    rows = sweep(chips, patterns, sparsities, sizes)
    print(runs_table(rows))
    print(f"runs: {len(rows)}, validated against numpy: {sum(r['validated'] for r in rows)}")
    print(f"sweep wall seconds: {time.perf_counter() - start:.1f}")
    print()
    print("compute cycles of each contiguous variant over graph-cut's (geometric mean over sparsities, range):")
    print(ratios_table(rows))
    walls, record = timed_run(3)
    wall = median(walls)
    verdict = "met" if wall < TARGET_WALL_S else "NOT met"
    print()
    print(
        f"graph-cut of {','.join(map(str, TIMED_LAYERS))} at {TIMED_SPARSITY:.0%} random sparsity on e64: "
        f"wall seconds {wall:.2f} (median of {len(walls)}, runs {spread(walls)}; partition, place, plan, simulate, "
        f"validate and the one-core baseline; target < {TARGET_WALL_S:g} s: {verdict}); "
        f"compute {record['compute_cycles']:.0f} cycles, speedup {record['speedup']:.2f}x"
    )
    if args.plot:
        from nnmap.plots import sparsity_figure

        title = f"Sparse {','.join(map(str, sizes))}: graph cut against contiguous ranges"
        write_atomic(args.plot, sparsity_figure(rows, title))
    if args.json:
        write_json({"layers": sizes, "runs": rows, "timed_wall_s": walls}, args.json)


if __name__ == "__main__":
    main()
