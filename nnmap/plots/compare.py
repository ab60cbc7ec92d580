"""The figure of ``nnmap compare``: each phase's cycles, the total, the time per sample and the speedup per strategy.

The runs come in the order ``nnmap compare`` ranked them (``nnmap.analysis.rank``); the
panel of the ranking figure says so and the fastest run's bars carry a star.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from nnmap.analysis import RANKINGS
from nnmap.plots._draw import MAX_INCHES, png

PANELS = (
    ("setup_cycles", "setup (host loads the cores)"),
    ("compute_cycles", "compute"),
    ("readback_cycles", "readback"),
    ("total_cycles", "total = setup + compute + readback"),
    ("per_sample_cycles", "per sample, weights resident"),
)
"""The cycle figures drawn, a panel each, with their titles."""
OK_COLOUR, BAD_COLOUR = "#2e8b57", "#d9534f"
SPREAD_FOR_LOG = 20  # one slow variant (DRAM broadcast) would flatten all the others


def _cycles_panel(ax: Any, x: np.ndarray, values: list[float], colours: list[str], title: str, ranked: bool) -> None:
    ax.bar(x, values, color=colours, edgecolor="black" if ranked else "none", lw=1.2 if ranked else 0)
    for xi, v in zip(x, values, strict=True):
        ax.annotate(
            f"{v:.0f}", (xi, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points"
        )
    ax.set_ylabel("cycles")
    if max(values) / max(min(values), 1e-9) > SPREAD_FOR_LOG:
        ax.set_yscale("log")
        ax.set_ylabel("cycles (log scale)")
    ax.set_title(title + (" (ranked by this)" if ranked else ""), fontsize=9, fontweight="bold" if ranked else None)


def compare_figure(runs: Sequence[dict[str, Any]]) -> bytes:
    """A panel per phase, the total, the time per sample and the speedup, one bar per run; validation in the legend.

    Args:
        runs: the ``metrics`` of each run, same chip, network and inputs, in the order to draw
            them; a run's ``rank_by`` (``nnmap.analysis.rank``) names the ranking figure.
    """
    by = runs[0].get("rank_by")
    figure = RANKINGS[by].figure if by else None
    names = [("* " if m.get("rank") == 1 else "") + f"{m['strategy']}/{m['broadcast']}" for m in runs]
    ok = [m["validated"] for m in runs]
    colours = [OK_COLOUR if v else BAD_COLOUR for v in ok]
    x = np.arange(len(runs))
    fig, axes = plt.subplots(2, 3, figsize=(min(MAX_INCHES, max(12.0, 1.8 * len(runs))), 8.0))
    for ax, (key, title) in zip(axes.flat, PANELS, strict=False):
        _cycles_panel(ax, x, [m[key] for m in runs], colours, title, key == figure)
    ax_s = axes.flat[len(PANELS)]
    speedups = [m["speedup"] or 0.0 for m in runs]
    ax_s.bar(x, speedups, color=colours)
    for xi, v in zip(x, speedups, strict=True):
        ax_s.annotate(
            f"{v:.2f}x", (xi, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points"
        )
    ax_s.set_ylabel("compute speedup over one core (x)")
    ax_s.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax_s.set_title("speedup of the compute phase (higher is better)", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks(x, names, fontsize=7, rotation=35, ha="right", rotation_mode="anchor")
        ax.margins(y=0.15)
    n_ok = sum(ok)
    handles: list[Any] = [Patch(color=OK_COLOUR, label=f"matches numpy ({n_ok} of {len(ok)})")]
    if n_ok < len(ok):
        handles.append(Patch(color=BAD_COLOUR, label=f"does NOT match numpy ({len(ok) - n_ok})"))
    handles.append(plt.Line2D([], [], color="grey", lw=0.8, ls="--", label="1x: as fast as one core"))
    ax_s.legend(handles=handles, title="validation against numpy", fontsize=7, loc="best")
    m = runs[0]
    ranking = f"ranked by {RANKINGS[by].meaning}, fastest (*) first" if by else "cycles: lower is better"
    fig.suptitle(
        f"Strategies on {m['chip']} ({m['mesh'][0]}x{m['mesh'][1]} cores), network {m['layers']}, batch {m['batch']}"
        f"\n{ranking}",
        fontsize=11,
    )
    fig.tight_layout()
    return png(fig)


def compare_figures(runs: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """The figures of ``nnmap compare``, as ``{file name: PNG bytes}``."""
    return {"compare.png": compare_figure(runs)}
