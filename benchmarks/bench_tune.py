"""tune against compare: is the tuned mapping faster than the best named strategy, and how good is the estimate?

Usage: python benchmarks/bench_tune.py [--short] [--json FILE]

For eight networks on e16 and e64 (the blog post's 6,16,4; 64,128,10; 64,72,10;
784,100,10; 64,256,256,10; a 90%-sparse 256,256,10; a deep narrow 32,32,32,32,32,10; a
wide 1024,64,10; four samples each but one for 784,100,10 and 1024,64,10, since a core
holding first-layer products holds every sample's inputs), tune (``nnmap.tune``, objective total, the
best 8 estimates simulated in this process) and compare (every strategy with each
broadcast it is compared with, on every core, loaded the default way) run on the same
network and inputs. Each row: compare's best and tune's winner with their simulated total
cycles, how much faster the winner is, and the median and worst error of the estimate of
the total over the candidates tune simulated. Then the distribution of that error over
every case, and the wall time of ``nnmap tune --chip e64 --layers 64,256,256,10`` (default
top 8 on the default two Dask workers) beside the rate of a bare simpy loop.
``--short``: 6,16,4 on e16, and the command's wall time on that network.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _bench import bare_simpy_events_per_s, machine

from epiphany_sim import chip_from_name
from epiphany_sim.errors import SimError
from epiphany_sim.files import check_output_path, write_json
from nnmap.errors import MappingError
from nnmap.model import Network, random_inputs, random_network
from nnmap.run import run
from nnmap.sparsity import sparsify
from nnmap.strategies import all_variants
from nnmap.tune.space import mapping_space
from nnmap.tune.tune import tune

SEED = 0
BATCH = 4
NETWORKS: list[tuple[str, list[int], int, float]] = [
    ("6,16,4", [6, 16, 4], BATCH, 0.0),
    ("64,128,10", [64, 128, 10], BATCH, 0.0),
    ("64,72,10", [64, 72, 10], BATCH, 0.0),
    ("784,100,10", [784, 100, 10], 1, 0.0),
    ("64,256,256,10", [64, 256, 256, 10], BATCH, 0.0),
    ("256,256,10 90% sparse", [256, 256, 10], BATCH, 0.9),
    ("32,32,32,32,32,10", [32, 32, 32, 32, 32, 10], BATCH, 0.0),
    ("1024,64,10", [1024, 64, 10], 1, 0.0),
]
"""Name, layer sizes, samples and sparsity of each network."""
WALL_LAYERS = "64,256,256,10"
WALL_TARGET_S = 60.0


def network(sizes: list[int], sparsity: float) -> Network:
    net = random_network(sizes, "sigmoid", "sigmoid", SEED)
    return sparsify(net, sparsity, "random", SEED) if sparsity else net


def compare_best(chip_name: str, net: Network, x: np.ndarray) -> tuple[str, float] | None:
    """compare's fastest validated variant by total cycles, on every core with the default load."""
    chip = chip_from_name(chip_name)
    best: tuple[str, float] | None = None
    for name, bc in all_variants():
        try:
            m = run(chip, net, name, x, bc, baseline=False).metrics
        except SimError:  # does not fit, or refused: compare lists it as such
            continue
        if m["validated"] and (best is None or m["total_cycles"] < best[1]):
            best = (f"{name}:{bc}", m["total_cycles"])
    return best


def case(chip_name: str, label: str, sizes: list[int], batch: int, sparsity: float) -> dict[str, Any]:
    chip = chip_from_name(chip_name)
    net = network(sizes, sparsity)
    x = random_inputs(net, batch, SEED)
    started = time.perf_counter()
    try:
        result = tune(chip, net, x, mapping_space(chip, net), "total", top=8, workers=0)
    except MappingError:  # no candidate fits the chip
        return {
            "chip": chip_name,
            "network": label,
            "batch": batch,
            "tune_total": None,
            "compare_total": None,
            "errors": [],
            "failed": 0,
        }
    seconds = time.perf_counter() - started
    errors = [abs(r.errors["total_cycles"]) for r in result.rows if "total_cycles" in r.errors]
    base = compare_best(chip_name, net, x)
    winner = result.winner
    return {
        "chip": chip_name,
        "network": label,
        "batch": batch,
        "compare_best": base[0] if base else None,
        "compare_total": base[1] if base else None,
        "tune_winner": winner.candidate.name if winner else None,
        "tune_total": winner.metrics["total_cycles"] if winner else None,
        "errors": errors,
        "failed": sum("error" in r.metrics for r in result.rows),
        "tune_seconds": seconds,
    }


def _row(r: dict[str, Any]) -> str:
    if r["tune_total"] is None or r["compare_total"] is None:
        return f"{r['chip']:<4} {r['network']:<22} no mapping fits"
    gain = r["compare_total"] / r["tune_total"]
    errs = r["errors"]
    return (
        f"{r['chip']:<4} {r['network']:<22} {r['batch']:>2}  {r['compare_best']:<22} {r['compare_total']:>12,.0f}  "
        f"{r['tune_winner']:<48} {r['tune_total']:>12,.0f}  {gain:>6.2f}x  "
        f"{np.median(errs):>6.1%} {max(errs):>6.1%}  {r['tune_seconds']:>6.1f}"
    )


def command_seconds(layers: str, chip: str) -> float:
    """Wall seconds of ``nnmap tune`` in a new process, defaults otherwise."""
    root = Path(__file__).resolve().parent.parent
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nnmap.cli", "tune", "--chip", chip, "--layers", layers, "--quiet"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="6,16,4 on e16 only")
    parser.add_argument("--json", metavar="FILE", help="write every case's figures as JSON")
    args = parser.parse_args()
    if args.json:
        check_output_path(args.json)
    print(machine())
    cases = [("e16", *NETWORKS[0])] if args.short else [(c, *n) for c in ("e16", "e64") for n in NETWORKS]
    print(
        f"{'chip':<4} {'network':<22} {'n':>2}  {'compare best':<22} {'total':>12}  {'tune winner':<48} "
        f"{'total':>12}  {'faster':>7}  {'err med':>6} {'worst':>6}  {'wall s':>6}"
    )
    rows = []
    for chip_name, label, sizes, batch, sparsity in cases:
        rows.append(case(chip_name, label, sizes, batch, sparsity))
        print(_row(rows[-1]), flush=True)
    done = [r for r in rows if r["tune_total"] is not None and r["compare_total"] is not None]
    slower = [r for r in done if r["tune_total"] > r["compare_total"]]
    errors = [e for r in rows for e in r["errors"]]
    within = sum(e <= 0.2 for e in errors)
    print(f"tune's winner slower than compare's best: {len(slower)} of {len(done)} cases")
    print(
        f"estimate error of the total over {len(errors)} simulated candidates: median {np.median(errors):.1%}, "
        f"90th percentile {np.percentile(errors, 90):.1%}, worst {max(errors):.1%}; within 20%: {within} "
        f"({within / len(errors):.0%}); runs that failed: {sum(r['failed'] for r in rows)}"
    )
    chip, layers = ("e16", "6,16,4") if args.short else ("e64", WALL_LAYERS)
    wall = command_seconds(layers, chip)
    met = "met" if wall < WALL_TARGET_S else "NOT met"
    print(
        f"nnmap tune --chip {chip} --layers {layers} (top 8, 2 workers): wall seconds {wall:.1f} "
        f"(target < {WALL_TARGET_S:.0f} s: {met})"
    )
    print(f"bare simpy timeout loop, events per wall-second: {bare_simpy_events_per_s(200_000):,.0f}")
    if args.json:
        write_json({"machine": machine(), "cases": rows, "command_seconds": wall}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
