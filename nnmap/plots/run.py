"""The figures of one run: the core timeline, core utilisation on the mesh, link congestion per phase, placement.

``RUN_FIGURES`` is the one table of them: ``nnmap run --plots`` writes each, and the HTML
report shows each under its caption. A new run figure is one more row there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import Normalize
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.ticker import PercentFormatter

from epiphany_sim.config import ChipConfig
from nnmap.analysis import (
    LinkLoad,
    cut_arrows,
    elink_load,
    link_congestion,
    macs_grid,
    segment_starts,
    timeline_rows,
    title_of,
    utilisation_grid,
)
from nnmap.plots._draw import MAX_INCHES, png
from nnmap.run import RunResult

KIND_COLOURS = {"compute": "#2e8b57", "wait": "#d9534f", "send": "#3a75c4"}
IDLE_COLOUR = "#ececec"
PHASE_COLOURS = {"setup": "#f6d58e", "readback": "#b9a3d6"}


def _us_axis(ax: Any, clock_hz: float) -> None:
    scale = 1e6 / clock_hz
    top = ax.secondary_xaxis("top", functions=(lambda c: c * scale, lambda u: u / scale))
    top.set_xlabel("time (µs)")


def _bars(y: int, spans: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    return [[(a, y - 0.4), (a, y + 0.4), (b, y + 0.4), (b, y - 0.4)] for a, b in spans]


def _draw_rows(ax: Any, rows: list[tuple[str, list[Any]]], x0: float, x1: float, marks: bool) -> None:
    """One bar per row: idle background, then one collection per activity kind (fast for 1024 cores)."""
    bars: dict[str, list] = {kind: [] for kind in ("idle", *KIND_COLOURS)}
    ticks = []
    for y, (_, acts) in enumerate(rows):
        bars["idle"] += _bars(y, [(x0, x1)])
        for act in acts:
            if act.end > x0 and act.start < x1:
                bars[act.kind] += _bars(y, [(act.start, act.end)])
        if marks:
            ticks += [[(t, y - 0.5), (t, y + 0.5)] for t, _ in segment_starts(acts) if x0 <= t <= x1]
    for kind, verts in bars.items():
        colour = IDLE_COLOUR if kind == "idle" else KIND_COLOURS[kind]
        ax.add_collection(PolyCollection(verts, facecolors=colour, linewidths=0, zorder=0 if kind == "idle" else 1))
    if ticks:
        ax.add_collection(LineCollection(ticks, colors="black", linewidths=1.2, zorder=2))


def timeline_figure(result: RunResult) -> bytes:
    """Core timeline: the whole run (left) and the compute phase enlarged (right)."""
    rows = timeline_rows(result)
    ph = result.phases
    cfg = result.plan.config
    n = len(rows)
    height = min(MAX_INCHES, max(3.5, 0.24 * n + 2.0))
    fig, (ax_all, ax_cmp) = plt.subplots(
        1, 2, figsize=(14, height), sharey=True, gridspec_kw={"width_ratios": [1, 2.2]}
    )
    _draw_rows(ax_all, rows, 0.0, ph.readback_end, marks=False)
    _draw_rows(ax_cmp, rows, ph.setup_end, ph.compute_end, marks=True)
    for name, (a, b) in {"setup": (0.0, ph.setup_end), "readback": (ph.compute_end, ph.readback_end)}.items():
        ax_all.axvspan(a, b, color=PHASE_COLOURS[name], alpha=0.45, zorder=0.5, lw=0)
    ax_all.axvspan(ph.setup_end, ph.compute_end, facecolor="none", edgecolor="black", hatch="//", lw=0.8, zorder=3)
    ax_all.set_xlim(0, ph.readback_end)
    ax_all.set_title("whole run", fontsize=10)
    ax_cmp.set_xlim(ph.setup_end, ph.compute_end)
    ax_cmp.set_title("compute phase (hatched on the left)", fontsize=10)
    for ax in (ax_all, ax_cmp):
        ax.set_xlabel("simulated time (cycles)")
        _us_axis(ax, cfg.clock_hz)
    every = max(1, n // 64)  # a tick label every row up to 64 cores, then every ``every``-th
    ax_all.set_yticks(range(0, n, every), [name for name, _ in rows][::every], fontsize=8 if n <= 20 else 6)
    ax_all.set_ylim(n - 0.5, -0.5)
    handles: list[Any] = [Patch(color=c, label=k) for k, c in KIND_COLOURS.items()]
    handles += [
        Patch(color=IDLE_COLOUR, label="idle"),
        Patch(color=PHASE_COLOURS["setup"], alpha=0.5, label="setup (the host loads weights and inputs)"),
        Patch(color=PHASE_COLOURS["readback"], alpha=0.5, label="readback"),
        plt.Line2D([], [], color="black", lw=1.2, label="next layer / sample begins"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=7, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(f"Core timeline: {title_of(result)}", fontsize=11)
    fig.tight_layout(rect=(0, 0.5 / height, 1, 1 - 0.35 / height))  # room for legend and title, in inches
    return png(fig)


def utilisation_figure(result: RunResult) -> bytes:
    """Heat grid of the fraction of the compute phase each core computed, on the mesh."""
    grid = utilisation_grid(result)
    cfg = result.plan.config
    mesh = result.chip.mesh
    size = min(MAX_INCHES / 2, 1.0 + 0.75 * max(cfg.rows, cfg.cols))
    fig, ax = plt.subplots(figsize=(size + 1.6, size))
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0)
    small = max(cfg.rows, cfg.cols) > 8
    for (r, c), value in np.ndenumerate(grid if max(cfg.rows, cfg.cols) <= 16 else np.zeros((0, 0))):
        text = f"{mesh.index_of((r, c))}\n{value:.0%}" if not small else f"{value:.0%}"
        ax.text(
            c, r, text, ha="center", va="center", fontsize=7 if small else 9, color="white" if value < 0.6 else "black"
        )
    ax.set_xticks(range(cfg.cols))
    ax.set_yticks(range(cfg.rows))
    ax.set_xlabel("mesh column")
    ax.set_ylabel("mesh row")
    fig.colorbar(image, ax=ax, label="compute / compute-phase cycles", fraction=0.046, pad=0.04)
    note = "cell: core index and utilisation" if not small else "core index = row x cols + col"
    ax.set_title(f"Core utilisation in the compute phase ({note})\n{title_of(result)}", fontsize=9)
    fig.tight_layout()
    return png(fig)


def _link_arrow(load: LinkLoad) -> tuple[tuple[float, float], tuple[float, float]]:
    """Arrow ends in (x, y) = (col, row), shortened and offset so the two directions part."""
    (r0, c0), (r1, c1) = load.src, load.dst
    dx, dy = c1 - c0, r1 - r0
    off = 0.1  # to the right of the direction of travel
    px, py = -dy * off, dx * off
    return (c0 + 0.2 * dx + px, r0 + 0.2 * dy + py), (c1 - 0.2 * dx + px, r1 - 0.2 * dy + py)


class _Panel:
    """One mesh drawn on ``ax``: the cores, an arrow per directed link coloured by its value, the eLink."""

    def __init__(self, ax: Any, cfg: ChipConfig, values: list[float], elink: dict[str, float], cmap: str) -> None:
        self.ax, self.cfg, self.values, self.elink = ax, cfg, values, elink
        self.norm = Normalize(0.0, max([*values, *elink.values()]) or 1.0)
        self.colours = plt.get_cmap(cmap)

    def draw(self, loads: list[LinkLoad], label: str, fmt: str) -> None:
        self._cores()
        self._links(loads)
        self._elink(fmt)
        self._axes(label, fmt)

    def _cores(self) -> None:
        cfg = self.cfg
        for r in range(cfg.rows):
            for c in range(cfg.cols):
                self.ax.add_patch(Rectangle((c - 0.17, r - 0.17), 0.34, 0.34, fc="white", ec="grey", lw=0.8))
                if cfg.rows * cfg.cols <= 16:
                    self.ax.text(c, r, f"{r * cfg.cols + c}", ha="center", va="center", fontsize=7, color="grey")

    def _links(self, loads: list[LinkLoad]) -> None:
        scale = min(1.0, 8 / max(self.cfg.rows, self.cfg.cols))  # thinner arrows on big meshes
        ends = [_link_arrow(load) for load in loads]
        arrow_colours = [self.colours(self.norm(v)) if v > 0 else "#cccccc" for v in self.values]
        if len(loads) > 2 * 2 * 16 * 16:  # thousands of patches take minutes to draw; one quiver takes a moment
            xy = np.array([a for a, _ in ends])
            uv = np.array([b for _, b in ends]) - xy
            self.ax.quiver(
                xy[:, 0],
                xy[:, 1],
                uv[:, 0],
                uv[:, 1],
                color=arrow_colours,
                angles="xy",
                scale_units="xy",
                scale=1,
                width=0.0015,
                headwidth=3,
                headlength=3,
            )
            return
        for (a, b), value, colour in zip(ends, self.values, arrow_colours, strict=True):
            self.ax.add_patch(
                FancyArrowPatch(
                    a,
                    b,
                    arrowstyle="-|>",
                    mutation_scale=9 * scale,
                    lw=(2.2 if value > 0 else 0.8) * scale,
                    color=colour,
                )
            )

    def _elink(self, fmt: str) -> None:
        """A box on the eLink's edge of the mesh, one half per direction, coloured by the busier of its
        write path and its read-request path."""
        cfg = self.cfg
        side = cfg.elink_side
        horizontal = side in ("east", "west")
        span = cfg.rows if horizontal else cfg.cols
        pos = {
            "east": cfg.cols - 0.5 + 0.35,
            "west": -0.5 - 0.65,
            "south": cfg.rows - 0.5 + 0.35,
            "north": -0.5 - 0.65,
        }[side]
        for i, (direction, writes, reads) in enumerate(
            (("out", "elink-out", "elink-rout"), ("in", "elink-in", "elink-rin"))
        ):
            value, requests = self.elink.get(writes, 0.0), self.elink.get(reads, 0.0)
            busiest = max(value, requests)
            colour = self.colours(self.norm(busiest)) if busiest > 0 else "#eeeeee"
            middle = -0.5 + (i + 0.5) * span / 2
            if horizontal:
                rect = Rectangle((pos, -0.5 + i * span / 2), 0.3, span / 2, fc=colour, ec="black", lw=0.8)
                xy, rot = (pos + 0.15, middle), 90
            else:
                rect = Rectangle((-0.5 + i * span / 2, pos), span / 2, 0.3, fc=colour, ec="black", lw=0.8)
                xy, rot = (middle, pos + 0.15), 0
            self.ax.add_patch(rect)
            self.ax.text(
                *xy,
                f"eLink {direction}: {value:{fmt}}" + (f", reads {requests:{fmt}}" if requests > 0 else ""),
                rotation=rot,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if self.norm(busiest) > 0.6 else "black",
            )

    def _axes(self, label: str, fmt: str) -> None:
        ax, cfg, side = self.ax, self.cfg, self.cfg.elink_side
        lo = -0.5 - (0.75 if side in ("west", "north") else 0.1)
        ax.set_xlim(-0.5 - (0.75 if side == "west" else 0.1), cfg.cols - 0.5 + (0.75 if side == "east" else 0.1))
        ax.set_ylim(cfg.rows - 0.5 + (0.75 if side == "south" else 0.1), lo if side == "north" else -0.6)
        ax.set_aspect("equal")
        ax.set_xticks(range(cfg.cols))
        ax.set_yticks(range(cfg.rows))
        ax.set_xlabel("mesh column")
        ax.set_ylabel("mesh row")
        bar = plt.colorbar(
            plt.cm.ScalarMappable(norm=self.norm, cmap=self.colours), ax=ax, label=label, fraction=0.046, pad=0.04
        )
        if fmt.endswith("%"):
            bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        if not any(v > 0 for v in [*self.values, *self.elink.values()]):
            ax.text(
                0.5,
                0.5,
                "zero on every link in this phase",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=11,
                bbox={"fc": "white", "ec": "grey", "alpha": 0.9},
            )


def congestion_figure(result: RunResult, phase: str = "compute") -> bytes:
    """PNG of the mesh's congestion during ``phase`` (``nnmap.analysis.PHASES``): utilisation (left) and
    total wait (right) per arrow, and on the eLink's paths.

    An arrow joins two neighbouring routers and shows the busiest of their cMesh, rMesh and
    xMesh links; the eLink is the box on its edge of the mesh.
    """
    loads = link_congestion(result, phase)
    elink = elink_load(result, phase)
    cfg = result.plan.config
    size = min(MAX_INCHES / 2, 1.5 + 0.9 * max(cfg.rows, cfg.cols))
    fig, (ax_u, ax_w) = plt.subplots(1, 2, figsize=(2 * size + 2.5, size + 0.6))
    _Panel(ax_u, cfg, [x.utilisation for x in loads], {k: v[0] for k, v in elink.items()}, "viridis").draw(
        loads, f"busy / {phase}-phase cycles", ".0%"
    )
    ax_u.set_title(f"link utilisation, {phase} phase", fontsize=10)
    _Panel(ax_w, cfg, [x.wait_cycles for x in loads], {k: v[1] for k, v in elink.items()}, "Reds").draw(
        loads, "total wait of queued transfers (cycles)", ".0f"
    )
    ax_w.set_title(f"cycles transfers waited for each link, {phase} phase", fontsize=10)
    fig.suptitle(
        f"Link congestion (arrows: router to router, busiest of the three meshes; eLink on the {cfg.elink_side} edge)"
        f"\n{title_of(result)}",
        fontsize=10,
    )
    fig.tight_layout()
    return png(fig)


MAX_ARROWS = 600  # the heaviest pairs only: a dense all-to-all on a big mesh would hide the mesh


def placement_figure(result: RunResult) -> bytes:
    """Each core's multiply-adds on the mesh, and the bytes the deal's cut sends between cores as arrows.

    An arrow from core ``a`` to core ``b`` carries the hidden values ``a`` computes that
    ``b`` multiplies and the partial sums ``a`` hands to ``b`` (``nnmap.analysis.cut_traffic``),
    its width and colour by bytes per sample; what the broadcast relays on the way is not drawn.
    """
    plan = result.plan
    cfg = plan.config
    grid = macs_grid(plan)
    arrows = cut_arrows(plan)
    size = min(MAX_INCHES / 2, 1.5 + 0.9 * max(cfg.rows, cfg.cols))
    fig, ax = plt.subplots(figsize=(size + 2.6, size))
    image = ax.imshow(grid, cmap="Greens", vmin=0.0, vmax=max(1.0, float(np.nanmax(grid))), alpha=0.5)
    if max(cfg.rows, cfg.cols) <= 16:
        position = {coord: k for k, coord in enumerate(plan.chain)}
        box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
        for (r, c), macs in np.ndenumerate(grid):
            if (r, c) in position:  # on white, above the arrows: legible on any green
                for dy, text, weight in ((-0.28, f"#{position[(r, c)]}", "bold"), (0.3, f"{macs:.0f}", "normal")):
                    ax.text(
                        c, r + dy, text, ha="center", va="center", fontsize=8, fontweight=weight, bbox=box, zorder=5
                    )
    shown = arrows[:MAX_ARROWS]
    heaviest = shown[0][2] if shown else 1
    colours = plt.get_cmap("plasma")
    norm = Normalize(0.0, heaviest)
    for (r0, c0), (r1, c1), n_bytes in reversed(shown):  # the heaviest drawn last, on top
        ax.add_patch(
            FancyArrowPatch(
                (c0, r0),
                (c1, r1),
                arrowstyle="-|>",
                connectionstyle="arc3,rad=0.2",  # the two directions of a pair bend apart
                mutation_scale=8,
                lw=0.4 + 3.0 * n_bytes / heaviest,
                color=colours(norm(n_bytes)),
                alpha=0.75,
                shrinkA=6,
                shrinkB=6,
            )
        )
    ax.set_xticks(range(cfg.cols))
    ax.set_yticks(range(cfg.rows))
    ax.set_xlabel("mesh column")
    ax.set_ylabel("mesh row")
    fig.colorbar(image, ax=ax, label="multiply-adds per sample", fraction=0.046, pad=0.04)
    fig.colorbar(
        plt.cm.ScalarMappable(norm=norm, cmap=colours),
        ax=ax,
        label="bytes per sample (arrows)",
        fraction=0.046,
        pad=0.1,
    )
    m = result.metrics
    drawn = f"the {len(shown)} heaviest of {len(arrows)} core pairs" if len(shown) < len(arrows) else "every core pair"
    ax.set_title(
        f"Placement: multiply-adds per core (#: chain position) and the traffic of the cut ({drawn})\n"
        f"{m['edges_cut']} connections cut, {m['hop_bytes']} bytes x hops, busiest core {m['imbalance']:.2f}x "
        f"the mean\n{title_of(result)}",
        fontsize=9,
    )
    fig.tight_layout()
    return png(fig)


@dataclass(frozen=True)
class RunFigure:
    """A figure of one run.

    Attributes:
        file: the PNG's file name.
        caption: what the figure shows, for the report.
        draw: renders the figure of a run as PNG bytes.
    """

    file: str
    caption: str
    draw: Callable[[RunResult], bytes]


RUN_FIGURES: list[RunFigure] = [
    RunFigure("timeline.png", "Core timeline: what each core does, cycle by cycle", timeline_figure),
    RunFigure("utilisation.png", "Core utilisation on the mesh", utilisation_figure),
    RunFigure(
        "congestion.png",
        "Link congestion in the compute phase: utilisation and queueing per directed link and on the eLink",
        congestion_figure,
    ),
    RunFigure(
        "congestion-setup.png",
        "Link congestion in the setup phase: the weights and inputs coming in over the eLink",
        partial(congestion_figure, phase="setup"),
    ),
    RunFigure(
        "congestion-readback.png",
        "Link congestion in the readback phase: the outputs leaving over the eLink",
        partial(congestion_figure, phase="readback"),
    ),
    RunFigure("placement.png", "Placement: work per core and the bytes the cut sends between cores", placement_figure),
]


def run_figures(result: RunResult) -> dict[str, bytes]:
    """Every figure of ``RUN_FIGURES`` for one run, as ``{file name: PNG bytes}``."""
    return {figure.file: figure.draw(result) for figure in RUN_FIGURES}
