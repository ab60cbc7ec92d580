"""Figures of nnmap: a run's core timeline, core utilisation on the mesh and link congestion;
comparisons of strategies; sweeps (speedup against cores, Pareto front); training (loss
against simulated time).

The only module of ``nnmap`` that imports matplotlib (with the non-interactive Agg
backend; ``epiphany_sim.plots`` draws the traffic curves). Each figure is split into a
small pure function that extracts the numbers (``utilisation_grid``, ``link_congestion``,
``elink_load``, ``timeline_rows``) and a drawing function that only draws them, so tests
can check the data behind a figure.
Figures are rendered to PNG bytes; ``save_figures`` writes them once all are drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from epiphany_sim.stats import time_split  # noqa: E402
from nnmap.run import RunResult  # noqa: E402

KIND_COLOURS = {"compute": "#2e8b57", "wait": "#d9534f", "send": "#3a75c4"}
IDLE_COLOUR = "#ececec"
PHASE_COLOURS = {"setup": "#f6d58e", "readback": "#b9a3d6"}
DPI = 110
MAX_INCHES = 30.0  # no figure side grows past this, whatever the mesh size


class LinkLoad(NamedTuple):
    """Load of one directed cMesh link over a phase.

    Attributes:
        name: the link's name (``"cmesh:r0,0->r0,1"``).
        src: mesh coordinate of the router the link leaves.
        dst: mesh coordinate of the router the link enters.
        utilisation: busy cycles over the phase's cycles.
        wait_cycles: cycles transfers waited for the link during the phase.
    """

    name: str
    src: tuple[int, int]
    dst: tuple[int, int]
    utilisation: float
    wait_cycles: float


# Data -----------------------------------------------------------------------------------

def title_of(result: RunResult) -> str:
    """Chip, network and strategy of a run, for figure titles."""
    m = result.metrics
    cfg = result.plan.config
    return (f"{m['chip']} ({cfg.rows}x{cfg.cols} cores), network {m['layers']}, "
            f"{m['strategy']} / broadcast {m['broadcast']}, batch {m['batch']}")


def utilisation_grid(result: RunResult) -> np.ndarray:
    """Fraction of the compute phase each core spent computing, shaped like the mesh."""
    cfg = result.plan.config
    start, end = result.phases.setup_end, result.phases.compute_end
    grid = np.zeros((cfg.rows, cfg.cols))
    if end <= start:
        return grid
    for core in result.chip.cores:
        grid[core.coord] = time_split(core, start, end)["compute"] / (end - start)
    return grid


def _phase_delta(result: RunResult, phase: str) -> tuple[list[tuple[int, float, float]], float]:
    """Per-link (bytes, busy, wait) accumulated during ``phase``, and the phase's cycles."""
    order = ["setup", "compute", "readback"]
    after = result.link_snapshots[phase]
    i = order.index(phase)
    before = result.link_snapshots[order[i - 1]] if i else [(0, 0.0, 0.0)] * len(after)
    ends = [result.phases.setup_end, result.phases.compute_end, result.phases.readback_end]
    cycles = ends[i] - (ends[i - 1] if i else 0.0)
    delta = [(b1 - b0, u1 - u0, w1 - w0) for (b0, u0, w0), (b1, u1, w1) in zip(before, after, strict=True)]
    return delta, cycles


def link_congestion(result: RunResult, phase: str = "compute") -> list[LinkLoad]:
    """Utilisation and total wait of every directed cMesh link during ``phase``.

    Args:
        result: a finished run.
        phase: ``"setup"``, ``"compute"`` or ``"readback"``.

    Returns:
        One ``LinkLoad`` per cMesh link, in the mesh's link order.
    """
    delta, cycles = _phase_delta(result, phase)
    loads = []
    for spec, (_, busy, wait) in zip(result.chip.mesh.links, delta, strict=True):
        if spec.kind != "cmesh":
            continue
        util = busy / cycles if cycles > 0 else 0.0
        loads.append(LinkLoad(spec.name, spec.src[1:], spec.dst[1:], util, wait))
    return loads


def elink_load(result: RunResult, phase: str = "compute") -> dict[str, tuple[float, float]]:
    """``(utilisation, wait cycles)`` of the eLink's two directions during ``phase``."""
    delta, cycles = _phase_delta(result, phase)
    out = {}
    for spec, (_, busy, wait) in zip(result.chip.mesh.links, delta, strict=True):
        if spec.kind.startswith("elink"):
            out[spec.kind] = (busy / cycles if cycles > 0 else 0.0, wait)
    return out


def timeline_rows(result: RunResult) -> list[tuple[str, list[Any]]]:
    """Timeline rows top to bottom: the host, then every core by index, with its activities."""
    rows: list[tuple[str, list[Any]]] = [("host", list(result.chip.host.activities))]
    for core in result.chip.cores:
        rows.append((f"core {core.index} {core.coord}", list(core.activities)))
    return rows


def phase_starts(activities: Sequence[Any]) -> list[tuple[float, str]]:
    """Cycle at which each new program phase (layer) begins in one agent's activities."""
    marks = []
    last = None
    for act in activities:
        if act.phase != last:
            if last is not None:
                marks.append((act.start, act.phase))
            last = act.phase
    return marks


# Drawing ----------------------------------------------------------------------------------

def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


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
            ticks += [[(t, y - 0.5), (t, y + 0.5)] for t, _ in phase_starts(acts) if x0 <= t <= x1]
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
    fig, (ax_all, ax_cmp) = plt.subplots(1, 2, figsize=(14, height), sharey=True,
                                         gridspec_kw={"width_ratios": [1, 2.2]})
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
    handles = [Patch(color=c, label=k) for k, c in KIND_COLOURS.items()]
    handles += [Patch(color=IDLE_COLOUR, label="idle"),
                Patch(color=PHASE_COLOURS["setup"], alpha=0.5, label="setup (host loads over eLink)"),
                Patch(color=PHASE_COLOURS["readback"], alpha=0.5, label="readback"),
                plt.Line2D([], [], color="black", lw=1.2, label="next layer / sample begins")]
    fig.legend(handles=handles, loc="lower center", ncol=7, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(f"Core timeline: {title_of(result)}", fontsize=11)
    fig.tight_layout(rect=(0, 0.5 / height, 1, 1 - 0.35 / height))  # room for legend and title, in inches
    return _png(fig)


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
        ax.text(c, r, text, ha="center", va="center", fontsize=7 if small else 9,
                color="white" if value < 0.6 else "black")
    ax.set_xticks(range(cfg.cols))
    ax.set_yticks(range(cfg.rows))
    ax.set_xlabel("mesh column")
    ax.set_ylabel("mesh row")
    fig.colorbar(image, ax=ax, label="compute / compute-phase cycles", fraction=0.046, pad=0.04)
    note = "cell: core index and utilisation" if not small else "core index = row x cols + col"
    ax.set_title(f"Core utilisation in the compute phase ({note})\n{title_of(result)}", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _link_arrow(load: LinkLoad) -> tuple[tuple[float, float], tuple[float, float]]:
    """Arrow ends in (x, y) = (col, row), shortened and offset so the two directions part."""
    (r0, c0), (r1, c1) = load.src, load.dst
    dx, dy = c1 - c0, r1 - r0
    off = 0.1  # to the right of the direction of travel
    px, py = -dy * off, dx * off
    return (c0 + 0.2 * dx + px, r0 + 0.2 * dy + py), (c1 - 0.2 * dx + px, r1 - 0.2 * dy + py)


def _mesh_panel(ax: Any, result: RunResult, loads: list[LinkLoad], values: list[float], cmap: str,
                elink: dict[str, float], label: str, fmt: str) -> None:
    """Draw the mesh, one arrow per directed link coloured by ``values``, and the eLink."""
    cfg = result.plan.config
    top = max([*values, *elink.values()]) or 1.0
    norm = Normalize(0.0, top)
    colours = plt.get_cmap(cmap)
    scale = min(1.0, 8 / max(cfg.rows, cfg.cols))  # thinner arrows on big meshes
    for r in range(cfg.rows):
        for c in range(cfg.cols):
            ax.add_patch(Rectangle((c - 0.17, r - 0.17), 0.34, 0.34, fc="white", ec="grey", lw=0.8))
            if cfg.rows * cfg.cols <= 16:
                ax.text(c, r, f"{r * cfg.cols + c}", ha="center", va="center", fontsize=7, color="grey")
    ends = [_link_arrow(load) for load in loads]
    arrow_colours = [colours(norm(v)) if v > 0 else "#cccccc" for v in values]
    if len(loads) <= 2 * 2 * 16 * 16:
        for (a, b), value, colour in zip(ends, values, arrow_colours, strict=True):
            ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=9 * scale,
                                         lw=(2.2 if value > 0 else 0.8) * scale, color=colour))
    else:  # thousands of patches take minutes to draw; one quiver takes a moment
        xy = np.array([a for a, _ in ends])
        uv = np.array([b for _, b in ends]) - xy
        ax.quiver(xy[:, 0], xy[:, 1], uv[:, 0], uv[:, 1], color=arrow_colours, angles="xy", scale_units="xy",
                  scale=1, width=0.0015, headwidth=3, headlength=3)
    # the eLink: a box on its edge of the mesh, one half per direction
    side = cfg.elink_side
    horizontal = side in ("east", "west")
    span = cfg.rows if horizontal else cfg.cols
    pos = {"east": cfg.cols - 0.5 + 0.35, "west": -0.5 - 0.65, "south": cfg.rows - 0.5 + 0.35, "north": -0.5 - 0.65}
    for i, kind in enumerate(("elink-out", "elink-in")):
        value = elink.get(kind, 0.0)
        colour = colours(norm(value)) if value > 0 else "#eeeeee"
        if horizontal:
            rect = Rectangle((pos[side], -0.5 + i * span / 2), 0.3, span / 2, fc=colour, ec="black", lw=0.8)
            xy = (pos[side] + 0.15, -0.5 + (i + 0.5) * span / 2)
            rot = 90
        else:
            rect = Rectangle((-0.5 + i * span / 2, pos[side]), span / 2, 0.3, fc=colour, ec="black", lw=0.8)
            xy = (-0.5 + (i + 0.5) * span / 2, pos[side] + 0.15)
            rot = 0
        ax.add_patch(rect)
        text = f"eLink {kind[6:]}: {value:{fmt}}"
        ax.text(*xy, text, rotation=rot, ha="center", va="center", fontsize=7,
                color="white" if norm(value) > 0.6 else "black")
    lo = -0.5 - (0.75 if side in ("west", "north") else 0.1)
    ax.set_xlim(-0.5 - (0.75 if side == "west" else 0.1), cfg.cols - 0.5 + (0.75 if side == "east" else 0.1))
    ax.set_ylim(cfg.rows - 0.5 + (0.75 if side == "south" else 0.1), lo if side == "north" else -0.6)
    ax.set_aspect("equal")
    ax.set_xticks(range(cfg.cols))
    ax.set_yticks(range(cfg.rows))
    ax.set_xlabel("mesh column")
    ax.set_ylabel("mesh row")
    sm = plt.cm.ScalarMappable(norm=norm, cmap=colours)
    bar = plt.colorbar(sm, ax=ax, label=label, fraction=0.046, pad=0.04)
    if fmt.endswith("%"):
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if not any(v > 0 for v in [*values, *elink.values()]):
        ax.text(0.5, 0.5, "zero on every link in this phase", transform=ax.transAxes, ha="center", va="center",
                fontsize=11, bbox={"fc": "white", "ec": "grey", "alpha": 0.9})


def congestion_figure(result: RunResult, phase: str = "compute") -> bytes:
    """The mesh with every directed cMesh link as an arrow: utilisation (left), total wait (right)."""
    loads = link_congestion(result, phase)
    elink = elink_load(result, phase)
    cfg = result.plan.config
    size = min(MAX_INCHES / 2, 1.5 + 0.9 * max(cfg.rows, cfg.cols))
    fig, (ax_u, ax_w) = plt.subplots(1, 2, figsize=(2 * size + 2.5, size + 0.6))
    _mesh_panel(ax_u, result, loads, [x.utilisation for x in loads], "viridis",
                {k: v[0] for k, v in elink.items()}, f"busy / {phase}-phase cycles", ".0%")
    ax_u.set_title(f"link utilisation, {phase} phase", fontsize=10)
    _mesh_panel(ax_w, result, loads, [x.wait_cycles for x in loads], "Reds",
                {k: v[1] for k, v in elink.items()}, "total wait of queued transfers (cycles)", ".0f")
    ax_w.set_title(f"cycles transfers waited for each link, {phase} phase", fontsize=10)
    fig.suptitle(f"Link congestion (arrows: directed cMesh links; eLink on the {cfg.elink_side} edge)\n"
                 f"{title_of(result)}", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def run_figures(result: RunResult) -> dict[str, bytes]:
    """Every figure of one run, as ``{file name: PNG bytes}``."""
    return {
        "timeline.png": timeline_figure(result),
        "utilisation.png": utilisation_figure(result),
        "congestion.png": congestion_figure(result),
    }


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
            ax.annotate(fmt.format(v), (xi, v), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
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
    fig.suptitle(f"Strategies on {m['chip']} ({m['mesh'][0]}x{m['mesh'][1]} cores), network {m['layers']}, "
                 f"batch {m['batch']}", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def compare_figures(runs: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """The figures of ``nnmap compare``, as ``{file name: PNG bytes}``."""
    return {"compare.png": compare_figure(runs)}


def save_figures(figures: dict[str, bytes], directory: str | Path) -> list[Path]:
    """Write rendered figures into ``directory`` (created if missing); return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in figures.items():
        path = directory / name
        path.write_bytes(png)
        paths.append(path)
    return paths


# Sweeps -----------------------------------------------------------------------------------

MAX_SWEEP_PANELS = 12  # one panel per workload; past this a sweep figure shows the first ones
CHIP_MARKERS = "osD^vP*Xhp<>"


def sweep_workloads(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows of a sweep that ran (no ``error``), grouped by workload: network, activations, batch.

    Chips, strategies, broadcasts and seeds vary inside a group; figures compare them there.
    Groups come in order of network size, then batch (not in the order the runs finished).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("error") is None:
            sizes = tuple(int(n) for n in str(row["layers"]).split(","))
            key = (sizes, row["hidden_activation"], row["output_activation"], int(row["batch"]))
            groups.setdefault(key, []).append(row)
    return {f"network {','.join(map(str, k[0]))} ({k[1]}/{k[2]}), batch {k[3]}": groups[k] for k in sorted(groups)}


def variant_of(row: dict[str, Any]) -> str:
    """``strategy/broadcast``: the name a sweep figure gives a mapping."""
    return f"{row['strategy']}/{row['broadcast']}"


def bytes_moved(row: dict[str, Any]) -> int:
    """Bytes a run moved in its compute phase, on chip and over the eLinks."""
    return int(row["compute_bytes_on_chip"]) + int(row["compute_bytes_off_chip"])


def speedup_by_cores(rows: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per variant, ``(cores, speedup)`` sorted by cores; runs with equal cores (seeds) averaged."""
    sums: dict[str, dict[int, list[float]]] = {}
    for row in rows:
        if row.get("speedup") is not None:
            sums.setdefault(variant_of(row), {}).setdefault(int(row["cores"]), []).append(float(row["speedup"]))
    return {v: [(c, float(np.mean(s))) for c, s in sorted(by.items())] for v, by in sorted(sums.items())}


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (lower is better).

    Sorted by the first coordinate; of equal points only the first is kept.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front: list[int] = []
    best = math.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def _panels(n: int, width: float, height: float) -> tuple[Figure, list[Any]]:
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(min(MAX_INCHES, width * cols), min(MAX_INCHES, height * rows)),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _variant_colours(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({variant_of(r) for r in rows})
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _finish_sweep_figure(fig: Figure, axes: Sequence[Any], what: str, rows: Sequence[dict[str, Any]],
                         shown: int, total: int, handles: list[Any], **legend: Any) -> bytes:
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
    return _png(fig)


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
    return _finish_sweep_figure(fig, axes, "Speedup against cores (compute phase, mean over seeds)", rows,
                                len(names), len(groups), handles, title="strategy/broadcast")


def _front_label(group: Sequence[dict[str, Any]], points: Sequence[tuple[float, float]],
                 at: tuple[float, float], most: int = 3) -> str:
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
            ax.scatter(x, y, s=36, marker=markers[row["chip"]], color=colours[variant_of(row)], alpha=0.85,
                       edgecolors="none", zorder=3)
        front = [points[i] for i in pareto_front(points)]
        fx, fy = zip(*front, strict=True)
        ax.step(fx, fy, where="post", color="black", lw=1.0, zorder=2)
        ax.scatter(fx, fy, s=110, facecolors="none", edgecolors="black", lw=1.2, zorder=4)
        for k, (x, y) in enumerate(front):  # labels alternate above and below: front points crowd
            ax.annotate(_front_label(group, points, (x, y)), (x, y), xytext=(7, 7 if k % 2 == 0 else -7),
                        textcoords="offset points", va="bottom" if k % 2 == 0 else "top", fontsize=7, zorder=5,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8, "lw": 0})
        for axis, values in (("x", [p[0] for p in points]), ("y", [p[1] for p in points])):
            if max(values) > 20 * max(min(values), 1.0):  # a DRAM broadcast would squash the rest
                getattr(ax, f"set_{axis}scale")("log")
        ax.set_xlabel("bytes moved in the compute phase (on + off chip)")
        ax.set_ylabel("compute phase (cycles)")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    handles: list[Any] = [Patch(color=c, label=v) for v, c in colours.items()]
    handles += [plt.Line2D([], [], ls="", marker=m, color="dimgrey", label=c) for c, m in markers.items()]
    handles.append(plt.Line2D([], [], color="black", lw=1.0, marker="o", mfc="none", ms=9,
                              label="Pareto front (lower is better on both)"))
    return _finish_sweep_figure(fig, axes, "Cycles against bytes moved, per workload", rows, len(names),
                                len(groups), handles)


def sweep_figures(rows: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """The figures of ``nnmap sweep``, as ``{file name: PNG bytes}``."""
    return {"sweep_speedup.png": sweep_speedup_figure(rows), "sweep_pareto.png": sweep_pareto_figure(rows)}


# Training -------------------------------------------------------------------------------

def training_curves(runs: Sequence[dict[str, Any]]) -> list[tuple[str, list[float], list[float]]]:
    """Per training run (``TrainResult.to_dict()``): its label, simulated time (us) and loss per epoch."""
    return [
        (f"{r['trainer']} on {r['chip']}", [e["time_us"] for e in r["epochs"]], [e["loss"] for e in r["epochs"]])
        for r in runs
    ]


def training_figure(runs: Sequence[dict[str, Any]]) -> bytes:
    """Loss against simulated time for one or more training runs on the same axes."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, times, losses in training_curves(runs):
        ax.plot(times, losses, marker="." if len(times) < 60 else None, lw=1.4, label=label)
    targets = {r["hyperparameters"]["target_loss"] for r in runs} - {None}
    for target in targets:
        ax.axhline(target, color="grey", ls="--", lw=0.8, label=f"target loss {target:g}")
    if runs and all(loss > 0 for _, _, losses in training_curves(runs) for loss in losses):
        ax.set_yscale("log")
    first = runs[0] if runs else {}
    loss_name = first.get("hyperparameters", {}).get("loss", "loss")
    ax.set_xlabel("simulated time (us), from power-on, weights loading included")
    ax.set_ylabel(f"{loss_name} over the dataset")
    ax.set_title(f"Training on {first.get('dataset', '?')}: loss against simulated time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.set_layout_engine("constrained")
    return _png(fig)
