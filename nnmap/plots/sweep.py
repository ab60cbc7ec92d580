"""The figures of ``nnmap sweep``: speedup against cores, and cycles against bytes moved with the Pareto front."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from nnmap.analysis import bytes_moved, pareto_front, speedup_by_cores, sweep_workloads, variant_of
from nnmap.plots._draw import MAX_INCHES, png

MAX_SWEEP_PANELS = 12  # one panel per workload; past this a sweep figure shows the first ones
CHIP_MARKERS = "osD^vP*Xhp<>"


def _panels(n: int, width: float, height: float) -> tuple[Figure, list[Any]]:
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(min(MAX_INCHES, width * cols), min(MAX_INCHES, height * rows)), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _variant_colours(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({variant_of(r) for r in rows})
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _finish_sweep_figure(
    fig: Figure,
    axes: Sequence[Any],
    what: str,
    rows: Sequence[dict[str, Any]],
    shown: int,
    total: int,
    handles: list[Any],
    **legend: Any,
) -> bytes:
    """The part both sweep figures share: the empty-sweep note, the legend, the title, the PNG."""
    if not shown:
        axes[0].text(0.5, 0.5, "no run of the sweep finished without error", ha="center", va="center")
        axes[0].set_axis_off()
    fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=min(4, len(handles)), **legend)
    failed = sum(r.get("error") is not None for r in rows)
    extra = f" (first {shown} of {total} workloads)" if shown < total else ""
    extra += f"; {failed} failed run{'s' if failed != 1 else ''} not shown" if failed else ""
    fig.suptitle(f"{what}{extra}", fontsize=11)
    fig.set_layout_engine("constrained")
    return png(fig)


def sweep_speedup_figure(rows: Sequence[dict[str, Any]]) -> bytes:
    """Speedup over one core against the number of cores, one line per strategy/broadcast.

    One panel per workload (``sweep_workloads``); runs that failed are left out.
    """
    groups = sweep_workloads(rows)
    names = list(groups)[:MAX_SWEEP_PANELS]
    ok = [r for name in names for r in groups[name]]
    colours = _variant_colours(ok)
    fig, axes = _panels(max(1, len(names)), 4.8, 3.8)
    for ax, name in zip(axes, names, strict=False):
        cores = sorted({int(r["cores"]) for r in groups[name]})
        for variant, points in speedup_by_cores(groups[name]).items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", ms=5, lw=1.6, color=colours[variant], label=variant)
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xticks(cores, [str(c) for c in cores])
        ax.minorticks_off()
        speedups = [float(r["speedup"]) for r in groups[name] if r.get("speedup")]
        if speedups and max(speedups) > 20 * min(speedups):  # DRAM broadcasts sit far below 1x
            ax.set_yscale("log")
            ax.set_ylabel("speedup over one core (x, log scale)")
        else:
            ax.set_ylim(bottom=0)
            ax.set_ylabel("speedup over one core (x)")
        ax.set_xlabel("cores")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    handles: list[Any] = [plt.Line2D([], [], color=c, marker="o", lw=1.6, label=v) for v, c in colours.items()]
    handles.append(plt.Line2D([], [], color="grey", lw=0.8, ls="--", label="1x: as fast as one core"))
    return _finish_sweep_figure(
        fig,
        axes,
        "Speedup against cores (compute phase, mean over seeds)",
        rows,
        len(names),
        len(groups),
        handles,
        title="strategy/broadcast",
    )


def _front_label(
    group: Sequence[dict[str, Any]], points: Sequence[tuple[float, float]], at: tuple[float, float], most: int = 3
) -> str:
    """The runs that sit at one point of the front: ``variant @ chip``, a few lines at most."""
    names = sorted({f"{variant_of(r)} @ {r['chip']}" for r, p in zip(group, points, strict=True) if p == at})
    extra = [f"+{len(names) - most} more"] if len(names) > most else []
    return "\n".join(names[:most] + extra)


def sweep_pareto_figure(rows: Sequence[dict[str, Any]]) -> bytes:
    """Compute cycles against bytes moved, every run a point, the Pareto front drawn through.

    Colour is the strategy/broadcast, the marker the chip; a run on the front is one that
    no other run of the same workload beats on both cycles and bytes.
    """
    groups = sweep_workloads(rows)
    names = list(groups)[:MAX_SWEEP_PANELS]
    ok = [r for name in names for r in groups[name]]
    colours = _variant_colours(ok)
    chips = sorted({r["chip"] for r in ok}, key=lambda c: (min(int(r["cores"]) for r in ok if r["chip"] == c), c))
    markers = {c: CHIP_MARKERS[i % len(CHIP_MARKERS)] for i, c in enumerate(chips)}
    fig, axes = _panels(max(1, len(names)), 5.0, 4.0)
    for ax, name in zip(axes, names, strict=False):
        group = groups[name]
        points = [(float(bytes_moved(r)), float(r["compute_cycles"])) for r in group]
        for row, (x, y) in zip(group, points, strict=True):
            ax.scatter(
                x,
                y,
                s=36,
                marker=markers[row["chip"]],
                color=colours[variant_of(row)],
                alpha=0.85,
                edgecolors="none",
                zorder=3,
            )
        front = [points[i] for i in pareto_front(points)]
        fx, fy = zip(*front, strict=True)
        ax.step(fx, fy, where="post", color="black", lw=1.0, zorder=2)
        ax.scatter(fx, fy, s=110, facecolors="none", edgecolors="black", lw=1.2, zorder=4)
        for k, (x, y) in enumerate(front):  # labels alternate above and below: front points crowd
            ax.annotate(
                _front_label(group, points, (x, y)),
                (x, y),
                xytext=(7, 7 if k % 2 == 0 else -7),
                textcoords="offset points",
                va="bottom" if k % 2 == 0 else "top",
                fontsize=7,
                zorder=5,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8, "lw": 0},
            )
        for axis, values in (("x", [p[0] for p in points]), ("y", [p[1] for p in points])):
            if max(values) > 20 * max(min(values), 1.0):  # a DRAM broadcast would squash the rest
                getattr(ax, f"set_{axis}scale")("log")
        ax.set_xlabel("bytes moved in the compute phase (on + off chip)")
        ax.set_ylabel("compute phase (cycles)")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    handles: list[Any] = [Patch(color=c, label=v) for v, c in colours.items()]
    handles += [plt.Line2D([], [], ls="", marker=m, color="dimgrey", label=c) for c, m in markers.items()]
    handles.append(
        plt.Line2D(
            [], [], color="black", lw=1.0, marker="o", mfc="none", ms=9, label="Pareto front (lower is better on both)"
        )
    )
    return _finish_sweep_figure(
        fig, axes, "Cycles against bytes moved, per workload", rows, len(names), len(groups), handles
    )


def sweep_figures(rows: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """The figures of ``nnmap sweep``, as ``{file name: PNG bytes}``."""
    return {"sweep_speedup.png": sweep_speedup_figure(rows), "sweep_pareto.png": sweep_pareto_figure(rows)}
