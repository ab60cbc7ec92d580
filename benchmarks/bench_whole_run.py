"""Whole runs: every strategy ranked by its total time and by its compute phase.

Usage: python benchmarks/bench_whole_run.py [--short] [--json FILE]

For each network, chip (e16, e64) and kernel profile (asm, c), every strategy with the
broadcasts it is compared with runs on the same inputs, loaded the default way (through
the DRAM window), and is validated against numpy. The networks:

- the blog post's 6,16,4 (seeded random weights, 8 samples);
- 64,128,10 (8 samples);
- 784,100,10, an MNIST-sized layer (one sample: every core that multiplies the first layer
  holds the inputs of every sample, and eight samples of 784 fill a core's SRAM);
- ``digits``: a scikit-learn MLPClassifier with 32 hidden units fitted on the 8x8 digits,
  64,32,10 with a softmax, run on the first 32 digits.

Each row: setup, compute, readback and total cycles, the time per sample with the weights
resident, validated; then the winner by total and by compute for each case, and whether
they differ. A mapping that does not fit the chip's SRAM is listed as such. ``--short``:
6,16,4 on e16 with both profiles.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
from _bench import machine

from epiphany_sim import chip_from_name
from epiphany_sim.files import check_output_path, write_json
from nnmap.errors import MappingError
from nnmap.model import Network, from_sklearn, random_inputs, random_network
from nnmap.run import run
from nnmap.strategies import all_variants

SEED = 0
FIGURES = ("setup_cycles", "compute_cycles", "readback_cycles", "total_cycles", "per_sample_cycles")


def digits_model() -> tuple[Network, np.ndarray]:
    """A fitted MLPClassifier on sklearn's digits, scaled to 0..1, and its first 32 inputs."""
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=SEED).fit(x, data.target)
    return from_sklearn(clf), x[:32]


def networks(short: bool) -> dict[str, tuple[Network, np.ndarray]]:
    out: dict[str, tuple[Network, np.ndarray]] = {}
    sizes = [([6, 16, 4], 8)] if short else [([6, 16, 4], 8), ([64, 128, 10], 8), ([784, 100, 10], 1)]
    for layers, batch in sizes:
        net = random_network(layers, seed=SEED)
        out[",".join(map(str, layers))] = (net, random_inputs(net, batch, seed=SEED))
    if not short:
        out["digits"] = digits_model()
    return out


def case(name: str, net: Network, x: np.ndarray, chip_name: str, kernels: str) -> list[dict[str, Any]]:
    """Every variant of one network on one chip and profile: its figures, or that it does not fit."""
    chip = chip_from_name(chip_name).replace(kernels=kernels)
    rows = []
    for strategy, broadcast in all_variants():
        row: dict[str, Any] = {"network": name, "chip": chip_name, "kernels": kernels}
        row["variant"] = f"{strategy}/{broadcast}"
        try:
            metrics = run(chip, net, strategy, x, broadcast, baseline=False).metrics
        except MappingError:
            row["fits"] = False
        else:
            row.update({key: metrics[key] for key in FIGURES}, fits=True, validated=metrics["validated"])
        rows.append(row)
    return rows


def winner(rows: list[dict[str, Any]], figure: str) -> str:
    ran = [r for r in rows if r["fits"]]
    return min(ran, key=lambda r: r[figure])["variant"] if ran else "-"


def print_case(rows: list[dict[str, Any]]) -> None:
    head = rows[0]
    print(f"\n{head['network']} on {head['chip']}, {head['kernels']} kernels")
    print(f"  {'variant':24} {'setup':>11} {'compute':>10} {'readback':>9} {'total':>11} {'per sample':>11}  ok")
    for r in sorted(rows, key=lambda r: r.get("total_cycles", float("inf"))):
        if not r["fits"]:
            print(f"  {r['variant']:24} does not fit")
            continue
        figures = " ".join(f"{r[key]:>{w},.0f}" for key, w in zip(FIGURES, (11, 10, 9, 11, 11), strict=True))
        print(f"  {r['variant']:24} {figures}  {'yes' if r['validated'] else 'NO'}")
    by_total, by_compute = winner(rows, "total_cycles"), winner(rows, "compute_cycles")
    same = "the same" if by_total == by_compute else "different"
    print(f"  fastest by total: {by_total}; by compute: {by_compute} ({same})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="6,16,4 on e16 only")
    parser.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    args = parser.parse_args(argv)
    if args.json:
        check_output_path(args.json)
    print(machine())
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    chips = ["e16"] if args.short else ["e16", "e64"]
    for name, (net, x) in networks(args.short).items():
        for chip_name in chips:
            for kernels in ("asm", "c"):
                found = case(name, net, x, chip_name, kernels)
                print_case(found)
                rows += found
    ran = [r for r in rows if r["fits"]]
    print(f"\nruns: {len(ran)}, validated against numpy: {sum(r['validated'] for r in ran)}")
    print(f"wall seconds: {time.perf_counter() - started:.1f}")
    if args.json:
        write_json({"rows": rows}, args.json)
    return 0 if all(r["validated"] for r in ran) else 1


if __name__ == "__main__":
    sys.exit(main())
