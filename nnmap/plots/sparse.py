"""The figure of a sparsity sweep (``benchmarks/bench_sparse.py``): speedup and bytes against sparsity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt

from nnmap.analysis import sparsity_curves, variant_of
from nnmap.plots._draw import MAX_INCHES, png

FIGURES = (("speedup", "speedup over one core (x)", False), ("compute_bytes_on_chip", "bytes on chip, compute", True))
"""The rows of panels: the figure a row draws, its axis label, and whether its axis is logarithmic."""


def sparsity_figure(rows: Sequence[dict[str, Any]], title: str) -> bytes:
    """Per chip, a row of panels for each of ``FIGURES``, a column per pattern; a line per variant.

    Args:
        rows: one per run: ``chip``, ``pattern``, ``sparsity``, ``strategy``, ``broadcast`` and
            the figures of ``FIGURES``.
        title: the figure's title.
    """
    chips = sorted({r["chip"] for r in rows}, key=[r["chip"] for r in rows].index)
    patterns = sorted({r["pattern"] for r in rows}, key=[r["pattern"] for r in rows].index)
    n_rows, n_cols = len(chips) * len(FIGURES), len(patterns)
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(min(MAX_INCHES, 3.6 * n_cols), min(MAX_INCHES, 2.6 * n_rows)),
        squeeze=False,
        sharex=True,
    )
    names = sorted({variant_of(r) for r in rows})
    colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(names)}
    for f, (figure, label, log) in enumerate(FIGURES):
        curves = sparsity_curves(rows, figure)
        for c, chip in enumerate(chips):
            for p, pattern in enumerate(patterns):
                ax = axes[c * len(FIGURES) + f][p]
                for variant, points in curves.get((chip, pattern), {}).items():
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, marker="o", ms=3, color=colours[variant], label=variant)
                if log:
                    ax.set_yscale("log")
                ax.set_title(f"{chip}, {pattern}", fontsize=9)
                if p == 0:
                    ax.set_ylabel(label, fontsize=8)
                if c * len(FIGURES) + f == n_rows - 1:
                    ax.set_xlabel("sparsity (fraction of connections dropped)", fontsize=8)
                ax.tick_params(labelsize=7)
    handles = [plt.Line2D([], [], color=colours[n], marker="o", label=n) for n in names]
    fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=len(handles))
    fig.suptitle(title, fontsize=11)
    fig.set_layout_engine("constrained")
    return png(fig)
