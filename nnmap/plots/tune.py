"""The figure of ``nnmap tune``: estimated against simulated cycles, and the front of time against cores used.

The numbers come from ``nnmap.tune.report`` (the front) and the rows of a ``TuneResult``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt

from nnmap.plots._draw import png

if TYPE_CHECKING:
    from nnmap.tune.tune import TuneResult

OK_COLOUR, BAD_COLOUR, WINNER_COLOUR = "#2e8b57", "#d9534f", "#1f4e9c"


def tune_figure(result: TuneResult) -> bytes:
    """Left: each simulated candidate's estimated against simulated figure of the objective, the diagonal
    and a 20% band; right: simulated figure against cores used, the front drawn as a line."""
    from nnmap.tune.report import best_estimate_per_cores, front

    figure = result.figure
    ran = [r for r in result.rows if figure in r.metrics]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    simulated = [r.metrics[figure] for r in ran]
    estimated = [r.estimate.figures()[figure] for r in ran]
    colours = [WINNER_COLOUR if r is result.winner else OK_COLOUR if r.ok else BAD_COLOUR for r in ran]
    left.scatter(simulated, estimated, c=colours, s=30, zorder=3)
    if simulated:
        low, high = min(simulated + estimated) * 0.9, max(simulated + estimated) * 1.1
        left.plot([low, high], [low, high], color="grey", lw=1, label="estimate = simulated")
        left.fill_between(
            [low, high], [0.8 * low, 0.8 * high], [1.2 * low, 1.2 * high], color="grey", alpha=0.15, label="within 20%"
        )
        left.legend(fontsize=8)
    left.set_xlabel(f"simulated {figure.replace('_', ' ')}")
    left.set_ylabel(f"estimated {figure.replace('_', ' ')}")
    left.set_title("the estimate against the simulator", fontsize=10)
    every = [(e.candidate.cores, e.estimate.figures()[figure]) for e in result.searched.estimated]
    right.scatter([c for c, _ in every], [v for _, v in every], c="lightgrey", s=10, label="estimated")
    least = best_estimate_per_cores(result)
    right.plot([c for c, _ in least], [v for _, v in least], color="grey", ls="--", lw=1, label="least estimate")
    right.scatter([r.candidate.cores for r in ran], simulated, c=colours, s=30, zorder=3, label="simulated")
    points = front(result)
    right.plot([p[0] for p in points], [p[1] for p in points], color=WINNER_COLOUR, lw=1.5, label="front (simulated)")
    for cores, value, name in points:
        right.annotate(name.split("/")[0], (cores, value), fontsize=7, xytext=(4, 4), textcoords="offset points")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("cores used")
    right.set_ylabel(figure.replace("_", " "))
    right.set_title("time against cores used (blue: the winner)", fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    return png(fig)
