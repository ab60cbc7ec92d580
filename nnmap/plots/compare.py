"""The figure of ``nnmap compare``: compute cycles and speedup per strategy, validation in the legend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from nnmap.plots._draw import png


def compare_figure(runs: Sequence[dict[str, Any]]) -> bytes:
    """Compute cycles and speedup per strategy; validation in the legend.

    Args:
        runs: the ``metrics`` of each run, same chip, network and inputs.
    """
    names = [f"{m['strategy']}\n{m['broadcast']}" for m in runs]
    cycles = [m["compute_cycles"] for m in runs]
    speedups = [m["speedup"] or 0.0 for m in runs]
    ok = [m["validated"] for m in runs]
    x = np.arange(len(runs))
    fig, (ax_c, ax_s) = plt.subplots(1, 2, figsize=(max(9.0, 2.2 * len(runs)), 4.6))
    colours = ["#2e8b57" if v else "#d9534f" for v in ok]
    ax_c.bar(x, cycles, color=colours)
    ax_s.bar(x, speedups, color=colours)
    for ax, values, fmt in ((ax_c, cycles, "{:.0f}"), (ax_s, speedups, "{:.2f}x")):
        for xi, v in zip(x, values, strict=True):
            ax.annotate(
                fmt.format(v), (xi, v), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points"
            )
        ax.set_xticks(x, names, fontsize=8)
        ax.set_xlabel("strategy / broadcast")
        ax.margins(y=0.15)
    ax_c.set_ylabel("compute phase (cycles)")
    spread = max(cycles) / max(min(cycles), 1e-9)
    log = spread > 20  # one slow variant (DRAM broadcast) would flatten all the others
    if log:
        ax_c.set_yscale("log")
        ax_c.set_ylabel("compute phase (cycles, log scale)")
    ax_c.set_title("compute cycles (lower is better)", fontsize=10)
    ax_s.set_ylabel("speedup over one core (x)")
    ax_s.axhline(1.0, color="grey", lw=0.8, ls="--", label="1x: as fast as one core")
    ax_s.set_title("speedup (higher is better)", fontsize=10)
    n_ok = sum(ok)
    handles: list[Any] = [Patch(color="#2e8b57", label=f"matches numpy ({n_ok} of {len(ok)})")]
    if n_ok < len(ok):
        handles.append(Patch(color="#d9534f", label=f"does NOT match numpy ({len(ok) - n_ok})"))
    handles.append(plt.Line2D([], [], color="grey", lw=0.8, ls="--", label="1x: as fast as one core"))
    ax_s.legend(handles=handles, title="validation against numpy", fontsize=8, loc="best")
    m = runs[0]
    fig.suptitle(
        f"Strategies on {m['chip']} ({m['mesh'][0]}x{m['mesh'][1]} cores), network {m['layers']}, batch {m['batch']}",
        fontsize=11,
    )
    fig.tight_layout()
    return png(fig)


def compare_figures(runs: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """The figures of ``nnmap compare``, as ``{file name: PNG bytes}``."""
    return {"compare.png": compare_figure(runs)}
