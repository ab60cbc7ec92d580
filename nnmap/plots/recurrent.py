"""The figures of a recurrent stack's runs: a core timeline coloured by band, and both orders' cells.

A cell ``LiTt`` belongs to the diagonal band ``i + t``; every band has its colour, so the
wavefront shows as stripes of one colour across the groups, the serial order as one group
at a time. ``nnmap rnn --plots`` writes both figures.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from nnmap.analysis import band, cell_of, group_rows
from nnmap.plots._draw import MAX_INCHES, png
from nnmap.plots.run import IDLE_COLOUR, KIND_COLOURS
from nnmap.recurrent.plan import ORDERS
from nnmap.recurrent.run import OrderRun, RecurrentRuns
from nnmap.segments import Cell

BANDS = [plt.get_cmap("tab10")(k) for k in (1, 2, 4, 5, 6, 8, 9)]  # not its blue, red and grey: sends, waits, idle
MIN_LABEL = 1 / 80  # a cell is labelled where it spans at least this share of the axis


def band_colour(layer: int, step: int) -> Any:
    """The colour of the band of a cell (seven colours, in turn)."""
    return BANDS[band(layer, step) % len(BANDS)]


def _title(result: RecurrentRuns) -> str:
    m = result.metrics
    return (
        f"{m['layers']} Elman layers of {m['hidden']} units x {m['steps']} steps on {m['chip']} "
        f"({m['mesh'][0]}x{m['mesh'][1]})"
    )


def timeline_figure(result: RecurrentRuns, order: str) -> bytes:
    """The compute phase of ``order``'s run: a row per core, grouped by layer; cells coloured by band."""
    run: OrderRun = result.runs[order]
    rows = group_rows(run.plan, run.chip)
    start, end = run.phases.span("compute")
    height = min(MAX_INCHES, max(3.5, 0.22 * len(rows) + 2.0))
    fig, ax = plt.subplots(figsize=(14, height))
    for y, (_, _, acts) in enumerate(rows):
        spans: dict[Any, list[tuple[float, float]]] = {IDLE_COLOUR: [(start, end - start)]}
        for act in acts:
            if act.end > start and act.start < end:
                cell = cell_of(act)
                colour = band_colour(*cell) if cell is not None else KIND_COLOURS[act.kind]
                spans.setdefault(colour, []).append((act.start, act.end - act.start))
        for colour, bars in spans.items():
            ax.broken_barh(bars, (y - 0.4, 0.8), facecolors=colour, linewidth=0)
    layers = [layer for _, layer, _ in rows]
    for i in range(run.plan.stack.depth):
        first, last = layers.index(i), len(layers) - 1 - layers[::-1].index(i)
        ax.axhline(last + 0.5, color="black", lw=0.8)
        for t, (a, b) in enumerate(run.metrics["cells"][i]):
            if b - a >= MIN_LABEL * (end - start):
                ax.text((a + b) / 2, (first + last) / 2, str(Cell(i, t)), ha="center", va="center", fontsize=7)
    ax.set_xlim(start, end)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    every = max(1, len(rows) // 64)
    ax.set_yticks(range(0, len(rows), every), [label for label, _, _ in rows][::every], fontsize=7)
    ax.set_xlabel("simulated time (cycles)")
    ax.set_title(
        f"Core timeline, {order} order: {run.metrics['compute_cycles']:.0f} compute cycles; a colour per band "
        f"i + t of the cells LiTt (waits red, sends blue)\n{_title(result)}",
        fontsize=10,
    )
    fig.tight_layout()
    return png(fig)


def orders_figure(result: RecurrentRuns) -> bytes:
    """Every cell of both orders on one time axis: a row per layer, a bar per cell coloured by band."""
    m = result.metrics
    depth = m["layers"]
    fig, axes = plt.subplots(len(ORDERS), 1, sharex=True, figsize=(14, 1.6 + 0.45 * depth * len(ORDERS)))
    for ax, order in zip(axes, ORDERS, strict=True):
        run = result.runs[order]
        origin = run.phases.setup_end
        longest = max(r.metrics["compute_cycles"] for r in result.runs.values())
        for i, spans in enumerate(run.metrics["cells"]):
            for t, (a, b) in enumerate(spans):
                ax.broken_barh([(a - origin, b - a)], (i - 0.4, 0.8), facecolors=band_colour(i, t), edgecolor="white")
                if b - a >= MIN_LABEL * longest:
                    ax.text((a + b) / 2 - origin, i, f"T{t}", ha="center", va="center", fontsize=7)
        ax.set_yticks(range(depth), [f"layer {i}" for i in range(depth)])
        ax.set_ylim(depth - 0.5, -0.5)
        ax.set_title(f"{order}: {run.metrics['compute_cycles']:.0f} compute cycles", fontsize=10)
    axes[-1].set_xlabel("cycles since the compute phase began")
    fig.suptitle(
        f"Cells LiTt, a colour per band i + t: the wavefront is {m['speedup']:.2f}x faster, the ideal "
        f"L*T/(L+T-1) is {m['ideal_speedup']:.2f}x\n{_title(result)}",
        fontsize=10,
    )
    fig.tight_layout()
    return png(fig)


def recurrent_figures(result: RecurrentRuns, order: str) -> dict[str, bytes]:
    """``timeline.png`` (the cores of ``order``'s run) and ``orders.png`` (the cells of both), as PNG bytes."""
    return {"timeline.png": timeline_figure(result, order), "orders.png": orders_figure(result)}
