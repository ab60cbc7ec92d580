"""The numbers behind the figures and the summaries, computed from runs without drawing.

``nnmap.run`` reports some of these figures and ``nnmap.plots`` draws them; neither
computes them on its own, so a test can check the data behind every figure.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from epiphany_sim.config import DEFAULT_KERNELS
from epiphany_sim.core import Activity, Agent
from epiphany_sim.mesh import INJECT_KINDS, MESH_KINDS, Coord, LinkSpec
from epiphany_sim.stats import time_split
from nnmap.plan import ELEMENT_BYTES, Plan
from nnmap.segments import Cell, Forward

if TYPE_CHECKING:
    from epiphany_sim.chip import Chip
    from nnmap.plan import RecurrentPlan
    from nnmap.run import RunResult
    from nnmap.session import LinkCounts

PHASES = ("setup", "compute", "readback")
"""The phases of a run, in order: the host loads the cores, the cores compute, the outputs come back."""


def core_utilisation(agent: Agent, start: float, end: float) -> float:
    """Fraction of ``[start, end)`` a core (or the host) spent computing; 0 for an empty span."""
    if end <= start:
        return 0.0
    return time_split(agent, start, end)["compute"] / (end - start)


class LinkLoad(NamedTuple):
    """Load of the links from one router to a neighbour over a phase, one per mesh.

    Attributes:
        name: the router pair (``"r0,0->r0,1"``).
        src: mesh coordinate of the router the links leave.
        dst: mesh coordinate of the router they enter.
        utilisation: busy cycles over the phase's cycles, of the busiest of the cMesh, rMesh
            and xMesh links between the two.
        wait_cycles: cycles transactions waited for any of the three during the phase.
    """

    name: str
    src: Coord
    dst: Coord
    utilisation: float
    wait_cycles: float


# Plans ------------------------------------------------------------------------------------


def core_macs(plan: Plan) -> list[int]:
    """Multiply-adds of one sample on each chain position, every layer together."""
    return [sum(assign.products(k) for assign in plan.layers) for k in range(len(plan.chain))]


def imbalance(plan: Plan) -> float:
    """The busiest core's multiply-adds over the mean of the chain's cores (1.0: perfectly even)."""
    work = core_macs(plan)
    mean = sum(work) / len(work)
    return max(work) / mean if mean else 1.0


def edges_cut(plan: Plan) -> int:
    """Connections between computed neurons whose product is not computed on the core that owns its input.

    Each such connection needs its value to cross the mesh (the network's inputs are not
    counted: the host loads each core the inputs it reads).
    """
    total = 0
    for li in range(1, len(plan.layers)):
        owners = plan.layers[li - 1].owners(plan.net.layers[li - 1].n_out)
        for k, pieces in enumerate(plan.layers[li].pieces):
            for piece in pieces:
                total += int(np.count_nonzero(owners[piece.input_array()] != k))
    return total


def cut_traffic(plan: Plan) -> dict[tuple[int, int], int]:
    """Bytes per sample chain position ``a`` must get to chain position ``b``, for every pair ``(a, b)`` exchanging any.

    Every hidden value goes once to each other core that multiplies it in the next layer,
    and every partial sum to where its flow sends it: the traffic the deal implies,
    whatever the broadcast (``targeted`` sends exactly this; the others send more, or
    along other paths).
    """
    traffic: Counter[tuple[int, int]] = Counter()
    sizes = plan.net.sizes
    for li, assign in enumerate(plan.layers):
        for j in range(sizes[li + 1]):
            for a, b in assign.flow.partial_sends(assign, j):
                traffic[(a, b)] += ELEMENT_BYTES
        if li + 1 < len(plan.layers):
            readers = plan.layers[li + 1].readers(sizes[li + 1])
            owners = assign.owners(sizes[li + 1])
            for q in range(len(plan.chain)):
                senders, counts = np.unique(owners[readers[q] & (owners != q)], return_counts=True)
                for a, n in zip(senders, counts, strict=True):
                    traffic[(int(a), q)] += int(n) * ELEMENT_BYTES
    return dict(traffic)


def cut_arrows(plan: Plan) -> list[tuple[Coord, Coord, int]]:
    """``cut_traffic`` on the mesh: ``(from core, to core, bytes per sample)``, heaviest first."""
    chain = plan.chain
    arrows = [(chain[a], chain[b], n) for (a, b), n in cut_traffic(plan).items()]
    return sorted(arrows, key=lambda arrow: (-arrow[2], arrow[0], arrow[1]))


def macs_grid(plan: Plan) -> np.ndarray:
    """Multiply-adds of one sample on each core, shaped like the mesh (NaN where the chain has no core)."""
    grid = np.full((plan.config.rows, plan.config.cols), np.nan)
    for coord, macs in zip(plan.chain, core_macs(plan), strict=True):
        grid[coord] = macs
    return grid


# Runs -------------------------------------------------------------------------------------


class Ranking(NamedTuple):
    """A figure runs are ranked by, lower being faster: its key in a run's figures and what it measures."""

    figure: str
    meaning: str


RANKINGS = {
    "total": Ranking("total_cycles", "total cycles (setup + compute + readback)"),
    "compute": Ranking("compute_cycles", "the compute phase's cycles alone"),
    "per-sample": Ranking("per_sample_cycles", "the cycles per sample with the weights already resident"),
}
"""What ``nnmap compare --rank-by`` ranks by, under the name the option takes."""

LINK_FAMILIES = {
    "mesh": MESH_KINDS,
    "edge": ("xedge-in", "xedge-out", "redge-in", "redge-out"),
    "elink": ("elink-in", "elink-out", "elink-rin", "elink-rout"),
}
"""Links grouped for the per-phase figures: router to router on the three meshes, the edge
routers to the eLink's ends, and the eLink's own paths (writes in and out, read requests in
and out)."""


def per_sample_cycles(total: float, parameters_end: float, batch: int, steady: float | None = None) -> float:
    """The time one sample takes once the weights are resident on the chip.

    A run loads every parameter first and the inputs after (``nnmap.session.Session.load``),
    so ``(total - parameters_end) / batch``, the inputs' loading, the compute and the readback
    shared over the batch, is what another batch would cost with the weights left in place.
    A run that streams its samples in during the compute phase and measures its steady state
    (``stream_figures``: ``steady_cycles_per_sample``, given as ``steady``) reports that
    interval instead: a long stream's samples come one such interval apart, each brought in
    within it.
    """
    if steady is not None:
        return steady
    return (total - parameters_end) / batch


def rank(rows: Sequence[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """``rows`` (run figures) fastest first by the figure of ``RANKINGS[by]``, each with ``rank`` (1: the
    fastest) and ``rank_by``; rows of equal figures keep their order and share no rank."""
    key = RANKINGS[by].figure
    ordered = sorted(rows, key=lambda m: m[key])
    return [{**m, "rank": i + 1, "rank_by": by} for i, m in enumerate(ordered)]


def phase_link_figures(
    links: Sequence[LinkSpec], before: LinkCounts, after: LinkCounts, cycles: float
) -> dict[str, Any]:
    """What the links carried between two snapshots ``cycles`` apart (one phase).

    - ``link_max_utilisation``: the busiest mesh link's busy cycles over ``cycles``;
    - ``edge_max_utilisation``: the same of the links between the edge routers and the eLink;
    - ``elink_utilisation``: per path of the eLink (``LINK_FAMILIES["elink"]``), busy over ``cycles``;
    - ``busy_cycles``: per family of ``LINK_FAMILIES``, the busy cycles of all its links;
    - ``bytes_on_chip``: bytes the cores injected into the meshes; ``bytes_off_chip``: bytes on the eLink.
    """
    busiest = dict.fromkeys(LINK_FAMILIES, 0.0)
    busy = dict.fromkeys(LINK_FAMILIES, 0.0)
    elink: dict[str, float] = {}
    on_chip = off_chip = 0
    for spec, (b0, u0, _), (b1, u1, _) in zip(links, before, after, strict=True):
        util = (u1 - u0) / cycles if cycles > 0 else 0.0
        for family, kinds in LINK_FAMILIES.items():
            if spec.kind in kinds:
                busiest[family] = max(busiest[family], util)
                busy[family] += u1 - u0
        if spec.kind in LINK_FAMILIES["elink"]:
            elink[spec.kind] = util
            off_chip += b1 - b0
        elif spec.kind in INJECT_KINDS:
            on_chip += b1 - b0
    return {
        "link_max_utilisation": busiest["mesh"],
        "edge_max_utilisation": busiest["edge"],
        "elink_utilisation": elink,
        "busy_cycles": busy,
        "bytes_on_chip": on_chip,
        "bytes_off_chip": off_chip,
    }


def layer_ends(cores: Sequence[Agent], layer: int, batch: int) -> list[float]:
    """Per sample, the cycle at which the cores finished ``layer`` of it: the end of the last
    activity any core recorded in that layer's segment of that sample (segments that name the
    sample, ``nnmap.segments.Forward``)."""
    last: dict[int, float] = {}
    for core in cores:
        for act in core.activities:
            segment = act.segment
            if isinstance(segment, Forward) and segment.layer == layer and segment.sample is not None:
                last[segment.sample] = max(last.get(segment.sample, -math.inf), act.end)
    return [last[s] for s in range(batch)]


def stream_figures(plan: Plan, cores: Sequence[Agent], start: float, end: float) -> dict[str, Any]:
    """How a run whose segments name the sample filled and drained, from ``start`` to ``end`` of its compute phase.

    - ``fill_cycles``: from the start until the last layer finished the first sample (the
      first sample's way through every layer, the others queued behind it);
    - ``steady_cycles_per_sample``: between the last layer finishing the first sample and
      finishing the last, per sample (None for a batch of one);
    - ``drain_cycles``: from the first layer finishing the last sample until the end;
    - ``layer_cores``: the cores holding products of each layer.

    ``start + fill_cycles + (batch - 1) * steady_cycles_per_sample`` is when the last layer
    finished the last sample: the compute phase's end, but for the cores' last messages.
    """
    batch = plan.batch
    done = layer_ends(cores, len(plan.layers) - 1, batch)
    first = layer_ends(cores, 0, batch)
    return {
        "fill_cycles": done[0] - start,
        "steady_cycles_per_sample": (done[-1] - done[0]) / (batch - 1) if batch > 1 else None,
        "drain_cycles": end - first[-1],
        "layer_cores": [sum(1 for pieces in assign.pieces if pieces) for assign in plan.layers],
    }


def hop_bytes(links: Sequence[LinkSpec], before: LinkCounts, after: LinkCounts) -> int:
    """Bytes times router hops between two snapshots of the links: each byte counted on every mesh link it crossed."""
    return sum(
        b1 - b0 for spec, (b0, _, _), (b1, _, _) in zip(links, before, after, strict=True) if spec.kind in MESH_KINDS
    )


def title_of(result: RunResult) -> str:
    """Chip, network and strategy of a run, for figure titles."""
    m = result.metrics
    cfg = result.plan.config
    return (
        f"{m['chip']} ({cfg.rows}x{cfg.cols} cores), network {m['layers']}, "
        f"{m['strategy']} / broadcast {m['broadcast']}, batch {m['batch']}"
    )


def utilisation_grid(result: RunResult) -> np.ndarray:
    """Fraction of the compute phase each core spent computing, shaped like the mesh."""
    cfg = result.plan.config
    start, end = result.phases.span("compute")
    grid = np.zeros((cfg.rows, cfg.cols))
    for core in result.chip.cores:
        grid[core.coord] = core_utilisation(core, start, end)
    return grid


def _phase_delta(result: RunResult, phase: str) -> tuple[list[tuple[int, float, float]], float]:
    """Per-link (bytes, busy, wait) accumulated during ``phase``, and the phase's cycles."""
    after = result.link_snapshots[phase]
    i = PHASES.index(phase)
    before = result.link_snapshots[PHASES[i - 1]] if i else [(0, 0.0, 0.0)] * len(after)
    start, end = result.phases.span(phase)
    cycles = end - start
    delta = [(b1 - b0, u1 - u0, w1 - w0) for (b0, u0, w0), (b1, u1, w1) in zip(before, after, strict=True)]
    return delta, cycles


def link_congestion(result: RunResult, phase: str = "compute") -> list[LinkLoad]:
    """Utilisation and total wait between every pair of neighbouring routers during ``phase``.

    Args:
        result: a finished run.
        phase: ``"setup"``, ``"compute"`` or ``"readback"``.

    Returns:
        One ``LinkLoad`` per directed router pair, in the mesh's link order.
    """
    delta, cycles = _phase_delta(result, phase)
    loads: dict[tuple[Coord, Coord], LinkLoad] = {}
    for spec, (_, busy, wait) in zip(result.chip.mesh.links, delta, strict=True):
        if spec.kind not in MESH_KINDS:
            continue
        src, dst = spec.src[1:], spec.dst[1:]
        util = busy / cycles if cycles > 0 else 0.0
        seen = loads.get((src, dst))
        if seen is None:
            name = f"r{src[0]},{src[1]}->r{dst[0]},{dst[1]}"
            loads[(src, dst)] = LinkLoad(name, src, dst, util, wait)
        else:
            loads[(src, dst)] = seen._replace(
                utilisation=max(seen.utilisation, util), wait_cycles=seen.wait_cycles + wait
            )
    return list(loads.values())


def elink_load(result: RunResult, phase: str = "compute") -> dict[str, tuple[float, float]]:
    """``(utilisation, wait cycles)`` of each of the eLink's paths during ``phase``: writes
    (``elink-out``, ``elink-in``) and read requests (``elink-rout``, ``elink-rin``), each way."""
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


def segment_starts(activities: Sequence[Activity]) -> list[tuple[float, object]]:
    """Cycle at which each new segment (a layer, say: ``nnmap.segments``) begins in one agent's
    activities, with the segment."""
    marks: list[tuple[float, object]] = []
    last = None
    for act in activities:
        if act.segment != last:
            if last is not None:
                marks.append((act.start, act.segment))
            last = act.segment
    return marks


# Sweeps -----------------------------------------------------------------------------------


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
    """``strategy/broadcast``: the name a sweep figure gives a mapping (``[c]`` after it for
    kernels priced as compiled C)."""
    kernels = row.get("kernels") or DEFAULT_KERNELS
    return f"{row['strategy']}/{row['broadcast']}" + ("" if kernels == DEFAULT_KERNELS else f" [{kernels}]")


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


def sparsity_curves(
    rows: Sequence[dict[str, Any]], figure: str
) -> dict[tuple[str, str], dict[str, list[tuple[float, float]]]]:
    """Rows of a sparsity sweep (``chip``, ``pattern``, ``sparsity``, ``strategy``, ``broadcast`` and
    ``figure``): per ``(chip, pattern)``, per variant, ``(sparsity, figure)`` sorted by sparsity."""
    curves: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for row in rows:
        panel = curves.setdefault((row["chip"], row["pattern"]), {})
        panel.setdefault(variant_of(row), []).append((float(row["sparsity"]), float(row[figure])))
    return {key: {v: sorted(points) for v, points in sorted(panel.items())} for key, panel in curves.items()}


# Training -----------------------------------------------------------------------------------


def training_curves(runs: Sequence[dict[str, Any]]) -> list[tuple[str, list[float], list[float]]]:
    """Per training run (``TrainResult.to_dict()``): its label, simulated time (us) and loss per epoch."""
    return [
        (f"{r['trainer']} on {r['chip']}", [e["time_us"] for e in r["epochs"]], [e["loss"] for e in r["epochs"]])
        for r in runs
    ]


# Recurrent stacks -----------------------------------------------------------------------------


def cell_of(act: Activity) -> tuple[int, int] | None:
    """The ``(layer, step)`` of the recurrent cell a compute activity belongs to (``nnmap.segments.Cell``);
    None for any other activity."""
    segment = act.segment
    return (segment.layer, segment.step) if act.kind == "compute" and isinstance(segment, Cell) else None


def band(layer: int, step: int) -> int:
    """The diagonal band of a cell, ``layer + step``: the wavefront runs the cells of a band together."""
    return layer + step


def cell_spans(plan: RecurrentPlan, chip: Chip) -> list[list[tuple[float, float]]]:
    """Per layer and step, the cycles from the first compute of the cell on any core of its
    group to the end of the last."""
    first = np.full((plan.stack.depth, plan.steps), math.inf)
    last = np.full((plan.stack.depth, plan.steps), -math.inf)
    for coord in plan.chain:
        for act in chip.core(coord).activities:
            cell = cell_of(act)
            if cell is not None:
                first[cell], last[cell] = min(first[cell], act.start), max(last[cell], act.end)
    return [[(float(a), float(b)) for a, b in zip(f, e, strict=True)] for f, e in zip(first, last, strict=True)]


def group_rows(plan: RecurrentPlan, chip: Chip) -> list[tuple[str, int, list[Any]]]:
    """Timeline rows in chain order, so that each layer's group is a block: label, layer, activities."""
    return [
        (f"L{i} core {chip.core(c).index} {c}", i, list(chip.core(c).activities))
        for i in range(plan.stack.depth)
        for c in plan.group_cores(i)
    ]
