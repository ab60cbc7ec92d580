"""Run a plan on a simulated chip, collect its figures and validate it against numpy.

A run has three phases, reported apart (the scheme's first and last steps around the compute):
``setup`` (the host loads every parameter, weights, biases and index arrays, into the cores,
then the inputs, along the run's load path: ``nnmap.session.LOADS``), ``compute`` (all cores
run their programs from the same start), ``readback`` (the owners write the outputs into the
shared DRAM, and the host reads them from there). Besides the three and their total, a run
reports the time per sample with the weights resident (``nnmap.analysis.per_sample_cycles``):
what a sample costs once the parameters have landed.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from epiphany_sim import progress as progress_lines
from epiphany_sim.chip import Chip
from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import HOST, Coord
from nnmap import buffers
from nnmap.analysis import (
    PHASES,
    core_utilisation,
    edges_cut,
    hop_bytes,
    imbalance,
    per_sample_cycles,
    phase_link_figures,
    stream_figures,
)
from nnmap.errors import MappingError, TooManyRowsError
from nnmap.lowering.delivery import delivery_class
from nnmap.lowering.feed import make_feed
from nnmap.mapping import largest_batch, plan_for
from nnmap.model import Network, activate, check_inputs, random_inputs
from nnmap.plan import Plan
from nnmap.programs import Op
from nnmap.session import LinkCounts, Session, single_core_chip
from nnmap.strategies import Strategy, get_strategy

VALIDATION_TOLERANCE = 1e-5  # absolute below 1, relative above


@dataclass
class Phases:
    """Cycle at which each phase ended (setup starts at 0), and at which the last parameter landed
    (``parameters_end``, within the setup: the inputs are loaded after the parameters)."""

    setup_end: float = 0.0
    compute_end: float = 0.0
    readback_end: float = 0.0
    parameters_end: float = 0.0

    def span(self, phase: str) -> tuple[float, float]:
        """``(start, end)`` cycles of ``phase``, one of ``PHASES``."""
        ends = [0.0, self.setup_end, self.compute_end, self.readback_end]
        i = PHASES.index(phase)
        return ends[i], ends[i + 1]


@dataclass
class RunResult:
    """A finished run: the plan, the simulated chip, the outputs and the figures.

    Attributes:
        plan: what ran.
        chip: the simulated chip after the run, with its records.
        phases: when each phase ended.
        outputs: the simulated outputs, ``(batch, n_out)``.
        reference: the numpy forward pass of the same inputs.
        link_snapshots: per phase, every link's counts at the phase's end (``nnmap.session.LinkCounts``).
        metrics: the run's figures, ready for JSON; among them how the deal cuts the
            network: ``edges_cut`` (connections whose value must cross the mesh,
            ``nnmap.analysis.edges_cut``), ``hop_bytes`` (bytes times router hops on the meshes
            in the compute phase, as simulated) and ``imbalance`` (the busiest core's
            multiply-adds over the mean). A run whose broadcast names the sample in its phases
            (``stream``) also reports how it filled and drained
            (``nnmap.analysis.stream_figures``).
    """

    plan: Plan
    chip: Chip
    phases: Phases
    outputs: np.ndarray
    reference: np.ndarray
    link_snapshots: dict[str, LinkCounts]
    metrics: dict[str, Any]


@dataclass
class Simulated:
    """What ``simulate`` returns: the session it ran in, its phase ends, outputs and link snapshots."""

    session: Session
    phases: Phases
    outputs: np.ndarray
    snapshots: dict[str, LinkCounts]


def simulate(
    plan: Plan, x: np.ndarray, trace: bool = False, progress: str | None = None, load: str | None = None
) -> Simulated:
    """Run ``plan`` on inputs ``x``: load, compute, read back.

    ``progress``: a label; if given, the progress of a running command (``epiphany_sim.progress``)
    counts the ops the cores have taken under it. ``load``: how the host loads the initial
    values (``nnmap.session.LOADS``; default the chip's faster one).
    """
    x = check_inputs(plan.net, x)
    if len(x) != plan.batch:
        raise ValueError(f"plan is for batch {plan.batch} but {len(x)} input rows were given")
    session = Session(plan.config, plan.buffers, plan.dram, plan.relays, trace, load)
    n_out = plan.net.sizes[-1]
    feed = make_feed(plan)
    parameters = {coord: plan.setup[coord] for coord in plan.chain}
    inputs = {coord: feed.loads(k, x) for k, coord in enumerate(plan.chain)}
    programs = {coord: plan.ops[coord] for coord in plan.chain}
    readback = {coord: plan.readback[coord] for coord in plan.chain}
    feeding = feed.host(session.chip, x)
    phases, snapshots = run_phases(
        session, (parameters, inputs), programs, readback, plan.batch * n_out, progress, feeding
    )
    out = session.chip.dram[buffers.OUT].data.reshape(plan.batch, n_out).copy()
    if plan.net.layers[-1].activation == "softmax":
        out = activate("softmax", out)
    return Simulated(session, phases, out, snapshots)


def run_phases(
    session: Session,
    loads: tuple[dict[Coord, dict[str, np.ndarray]], dict[Coord, dict[str, np.ndarray]]],
    programs: Mapping[Coord, Sequence[Op]],
    readback: Mapping[Coord, Sequence[Op]],
    n_outputs: int,
    progress: str | None = None,
    feeding: Generator[simpy.Event, Any, None] | None = None,
) -> tuple[Phases, dict[str, LinkCounts]]:
    """The three phases on ``session``, with every link's counts at the end of each.

    The host loads ``loads``, the parameters then the inputs (each per core, buffer name to
    values; ``Session.load``), into the cores; the cores run
    ``programs`` from the same start, while the host runs ``feeding`` if given (inputs
    streamed in during compute); then the ``readback`` programs write ``n_outputs`` values
    into the DRAM buffer ``buffers.OUT``. ``progress``: as for ``simulate``.
    """
    phases = Phases()
    snapshots: dict[str, LinkCounts] = {}

    def driver() -> Generator[simpy.Event, Any, None]:
        phases.parameters_end = yield from session.load(*loads)
        phases.setup_end = session.now
        snapshots["setup"] = session.link_counts()
        total = sum(len(ops) for ops in programs.values())
        with progress_lines.Bar(progress or "", total, "ops", enabled=progress is not None) as bar:
            if feeding is not None:
                session.process(feeding)
            yield from session.run_all(programs, bar if bar.shown else None)
        phases.compute_end = session.now
        snapshots["compute"] = session.link_counts()
        for coord in readback:
            session.chip.core(coord).segment = "readback"
        session.start(readback)
        yield from session.chip.host.wait(buffers.OUT, n_outputs, "wait for outputs")
        yield from session.chip.host.read(HOST, buffers.OUT, 0, n_outputs, "read the outputs")
        phases.readback_end = session.now
        snapshots["readback"] = session.link_counts()

    session.process(driver())
    session.run()
    return phases, snapshots


def validate(outputs: np.ndarray, reference: np.ndarray, tolerance: float = VALIDATION_TOLERANCE) -> tuple[float, bool]:
    """Largest absolute error and whether every output is within ``tolerance`` (absolute below 1, relative above)."""
    err = np.abs(outputs.astype(np.float64) - reference.astype(np.float64))
    limit = tolerance * np.maximum(1.0, np.abs(reference))
    max_err = float(np.nanmax(err)) if np.all(np.isfinite(err)) else float("nan")
    return max_err, bool(np.all(np.isfinite(outputs)) and np.all(err <= limit))


def run(
    config: ChipConfig,
    net: Network,
    strategy: str = "partitioned",
    x: np.ndarray | None = None,
    broadcast: str | None = None,
    trace: bool = False,
    baseline: bool = True,
    progress: bool = False,
    feed: str = "preload",
    load: str | None = None,
    chain: list[Coord] | None = None,
) -> RunResult:
    """Map ``net`` with ``strategy``, simulate it on inputs ``x`` and validate the outputs.

    Args:
        config: the chip.
        net: the network.
        strategy: a registered strategy name.
        x: inputs ``(batch, n_in)``; one seeded random sample if omitted.
        broadcast: hidden-value broadcast variant; the strategy's default if omitted.
        trace: keep every transfer (for traces and link plots).
        baseline: also run the single-core baseline for ``speedup``.
        progress: report the progress of the simulations (``epiphany_sim.progress``).
        feed: how the inputs reach the cores (``nnmap.lowering.feed``); the single-core
            baseline always has them loaded beforehand, so ``speedup`` compares compute alone.
        load: how the host loads weights, biases and preloaded inputs (``nnmap.session.LOADS``;
            default the chip's faster one, ``nnmap.session.faster_load``).
        chain: the cores in chain order (``nnmap.mapping.plan_for``); the snake over the usable cores if omitted.
    """
    if x is None:
        x = random_inputs(net)
    x = check_inputs(net, x)
    chosen = get_strategy(strategy)
    plan = _plan(config, net, chosen, len(x), broadcast, feed, chain)
    sim = simulate(plan, x, trace, f"{strategy} on {config.name}" if progress else None, load)
    single = None
    if baseline:
        one = plan_for(chosen, single_core_chip(config), net, len(x), chosen.default_broadcast)
        start, end = simulate(one, x, progress="single-core baseline" if progress else None).phases.span("compute")
        single = end - start
    reference = net.forward(x)
    metrics = _metrics(plan, sim, reference, single)
    return RunResult(plan, sim.session.chip, sim.phases, sim.outputs, reference, sim.snapshots, metrics)


def _plan(
    config: ChipConfig,
    net: Network,
    chosen: Strategy,
    rows: int,
    broadcast: str | None,
    feed: str,
    chain: list[Coord] | None = None,
) -> Plan:
    """The plan of one run of ``rows`` samples; ``TooManyRowsError``, naming the chunked call, if fewer fit."""
    try:
        return plan_for(chosen, config, net, rows, broadcast, chain, feed)
    except MappingError as exc:
        fitting = largest_batch(chosen, config, net, rows, broadcast, feed, chain) if rows > 1 else 0
        if fitting == 0:
            raise
        layout_error = exc
    raise TooManyRowsError(
        f"the {rows} input rows do not fit {config.name}'s SRAM in one run: at most {fitting} do with "
        f"{chosen.name}; nnmap.chunks.run_all(config, net, strategy, x) runs them in chunks that fit",
        layout_error,
    )


def _metrics(plan: Plan, sim: Simulated, reference: np.ndarray, single: float | None) -> dict[str, Any]:
    """The figures of a run, as plain data."""
    config, net, phases, session = plan.config, plan.net, sim.phases, sim.session
    compute = phases.compute_end - phases.setup_end
    snaps = sim.snapshots
    chip = session.chip
    stream = (
        stream_figures(plan, [chip.core(c) for c in plan.chain], phases.setup_end, phases.compute_end)
        if delivery_class(plan.broadcast).names_samples
        else {}
    )
    return {
        "chip": config.name,
        "mesh": [config.rows, config.cols],
        "clock_hz": config.clock_hz,
        "strategy": plan.strategy,
        "broadcast": plan.broadcast,
        "layers": net.sizes,
        "activations": [layer.activation for layer in net.layers],
        "batch": plan.batch,
        "load": session.load_path,
        "kernels": config.kernels,
        **simulated_figures(session, phases, snaps, plan.chain, plan.batch, streamed_steady(plan, stream)),
        "single_core_cycles": single,
        "speedup": (single / compute) if single and compute > 0 else None,
        **validation_figures(sim.outputs, reference),
        "sram_peak_bytes": [core.sram.peak_bytes for core in chip.cores],
        "edges_cut": edges_cut(plan),
        "hop_bytes": hop_bytes(chip.mesh.links, snaps["setup"], snaps["compute"]),
        "imbalance": imbalance(plan),
        **({"feed": plan.feed} if plan.feed != "preload" else {}),
        **stream,
    }


def validation_figures(outputs: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """``max_abs_error`` and ``validated`` of simulated outputs against their reference (``validate``)."""
    max_err, ok = validate(outputs, reference)
    return {"max_abs_error": max_err, "validated": ok}


def streamed_steady(plan: Plan, stream: dict[str, Any]) -> float | None:
    """The steady interval between samples of a run whose inputs come in during the compute phase
    (a feed other than ``preload``), which a long stream of samples keeps; ``None`` otherwise, since
    with preloaded inputs the interval leaves out bringing each sample in."""
    return stream.get("steady_cycles_per_sample") if plan.feed != "preload" else None


def simulated_figures(
    session: Session,
    phases: Phases,
    snapshots: dict[str, LinkCounts],
    cores: list[Coord],
    batch: int,
    steady: float | None = None,
) -> dict[str, Any]:
    """What a finished run's session measured: each phase's cycles and time, the time per sample with
    the weights resident, the utilisation of ``cores`` (in the mesh's order), the busiest link, bytes
    and messages; and the same per phase under ``phases``.

    Args:
        session: the finished session.
        phases: when its phases ended.
        snapshots: every link's counts at the end of each phase.
        cores: the cores whose utilisation is reported.
        batch: the samples the run computed (``per_sample_cycles`` shares the time after the
            parameters over them).
        steady: the steady-state cycles per sample of a run that streams its samples, if it
            measured one (``nnmap.analysis.per_sample_cycles``).
    """
    config, chip = session.chip.config, session.chip
    compute = phases.compute_end - phases.setup_end
    zero = [(0, 0.0, 0.0)] * len(snapshots["setup"])
    util, on_compute, off_compute = session.traffic(snapshots["setup"], snapshots["compute"], compute)
    _, on_total, _ = session.traffic(zero, snapshots["readback"], 1.0)
    per_sample = per_sample_cycles(phases.readback_end, phases.parameters_end, batch, steady)
    ordered = sorted(cores, key=chip.mesh.index_of)
    return {
        "setup_cycles": phases.setup_end,
        "compute_cycles": compute,
        "readback_cycles": phases.readback_end - phases.compute_end,
        "total_cycles": phases.readback_end,
        "parameters_cycles": phases.parameters_end,
        "per_sample_cycles": per_sample,
        "time_us": config.cycles_to_us(phases.readback_end),
        "setup_time_us": config.cycles_to_us(phases.setup_end),
        "compute_time_us": config.cycles_to_us(compute),
        "readback_time_us": config.cycles_to_us(phases.readback_end - phases.compute_end),
        "per_sample_time_us": config.cycles_to_us(per_sample),
        "core_utilisation": [core_utilisation(chip.core(c), phases.setup_end, phases.compute_end) for c in ordered],
        "link_max_utilisation": util,
        "bytes_on_chip": on_total,
        "bytes_off_chip": session.meter().bytes_off_chip,
        "compute_bytes_on_chip": on_compute,
        "compute_bytes_off_chip": off_compute,
        "messages": session.messages(),
        "phases": phase_figures(session, phases, snapshots, ordered),
    }


def phase_figures(
    session: Session, phases: Phases, snapshots: dict[str, LinkCounts], cores: list[Coord]
) -> dict[str, dict[str, Any]]:
    """Per phase (``PHASES``): its cycles and time, each of ``cores``' utilisation in it, and what the links
    carried in it (``nnmap.analysis.phase_link_figures``, the eLink's paths among them)."""
    chip = session.chip
    before = [(0, 0.0, 0.0)] * len(snapshots["setup"])
    out = {}
    for phase in PHASES:
        start, end = phases.span(phase)
        out[phase] = {
            "cycles": end - start,
            "time_us": chip.config.cycles_to_us(end - start),
            "core_utilisation": [core_utilisation(chip.core(c), start, end) for c in cores],
            **phase_link_figures(chip.mesh.links, before, snapshots[phase], end - start),
        }
        before = snapshots[phase]
    return out
