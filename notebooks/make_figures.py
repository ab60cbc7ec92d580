"""Draw the figures the README and the docs show: ``python notebooks/make_figures.py [OUT_DIR]``.

Default output: ``docs/figures/``. Every figure comes from a simulated run with fixed seeds,
so the files are the same on every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from epiphany_sim.config import load_chip
from epiphany_sim.plots import load_latency_figure
from epiphany_sim.traffic import TrafficSpec, sweep
from nnmap.analysis import rank
from nnmap.model import random_network
from nnmap.plots import compare_figure, save_figures
from nnmap.plots.run import congestion_figure, timeline_figure, utilisation_figure
from nnmap.run import run
from nnmap.strategies import all_variants

VARIANTS = all_variants()
"""Every strategy with each broadcast it is compared with, as ``nnmap compare --strategies all`` runs them."""
RATES = [round(0.02 + 0.02 * k, 2) for k in range(25)]  # --sweep 0.02:0.5:0.02


def main(out: Path) -> list[Path]:
    e16, e64 = load_chip("e16"), load_chip("e64")
    blog = random_network([6, 16, 4], "sigmoid", "sigmoid", 0)
    odd = random_network([8, 17, 3], "sigmoid", "sigmoid", 0)
    big = random_network([32, 128, 10], "sigmoid", "sigmoid", 0)
    figures = {
        "e16-partitioned-timeline.png": timeline_figure(run(e16, blog, "partitioned", trace=True)),
        "e16-node-per-core-17-utilisation.png": utilisation_figure(run(e16, odd, "node-per-core")),
        "e64-partitioned-congestion.png": congestion_figure(run(e64, big, "partitioned")),
        "e64-compare.png": compare_figure(rank([run(e64, big, s, broadcast=b).metrics for s, b in VARIANTS], "total")),
        "e64-uniform-load-latency.png": load_latency_figure(sweep(e64, TrafficSpec("uniform", cycles=5000), RATES)),
    }
    return save_figures(figures, out)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "figures"
    for path in main(target):
        print(path)
