"""Run a plan on a simulated chip, collect its figures and validate it against numpy.

A run has three phases, reported apart (seed 003's step 0 and step 12 around the compute):
``setup`` (the host writes weights, biases and inputs into every core over the eLink),
``compute`` (all cores run their programs from the same start), ``readback`` (the owners
write the outputs into the shared DRAM, where the host reads them).
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from tqdm import tqdm

from epiphany_sim.chip import Chip
from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import INJECT_KINDS
from epiphany_sim.stats import off_chip_bytes, time_split
from nnmap.model import Network, activate, check_inputs, random_inputs
from nnmap.plan import Plan
from nnmap.program import Op, register_relays, run_ops
from nnmap.strategies import get_strategy

TOLERANCE = 1e-5  # absolute below 1, relative above


@dataclass
class Phases:
    """Cycle at which each phase ended (setup starts at 0)."""

    setup_end: float = 0.0
    compute_end: float = 0.0
    readback_end: float = 0.0


@dataclass
class RunResult:
    """A finished run: the plan, the simulated chip, the outputs and the figures."""

    plan: Plan
    chip: Chip
    phases: Phases
    outputs: np.ndarray
    reference: np.ndarray
    link_snapshots: dict[str, list[tuple[int, float, float]]]
    metrics: dict[str, Any]


def _snapshot(chip: Chip) -> list[tuple[int, float, float]]:
    return [(link.bytes, link.busy_cycles, link.wait_cycles) for link in chip.network.links]


def _counted(ops: list[Op], bar: tqdm) -> Iterator[Op]:
    """``ops`` one by one, ticking ``bar`` as the core takes each."""
    for op in ops:
        yield op
        bar.update()


def simulate(plan: Plan, x: np.ndarray, trace: bool = False,
             progress: str | None = None) -> tuple[Chip, Phases, np.ndarray, dict]:
    """Run ``plan`` on inputs ``x``; return the chip, phase ends, outputs and link snapshots.

    ``progress``: a label; if given, a progress bar over the ops the cores have taken runs
    on the terminal (on standard error, and only if it is a terminal).
    """
    x = check_inputs(plan.net, x)
    if len(x) != plan.batch:
        raise ValueError(f"plan is for batch {plan.batch} but {len(x)} input rows were given")
    chip = Chip(plan.chip, trace=trace)
    for coord in plan.chain:
        sram = chip.core(coord).sram
        for name, n in plan.buffers[coord].items():
            sram.alloc(name, n)
    for name, n in plan.dram.items():
        chip.dram.alloc(name, n)
    register_relays(chip, plan.relays)
    phases = Phases()
    snapshots: dict[str, list[tuple[int, float, float]]] = {}
    n_out = plan.net.sizes[-1]

    def driver() -> Generator[simpy.Event, Any, None]:
        host = chip.host
        host.phase = "setup"
        writes = []
        for coord in plan.chain:
            loads = dict(plan.setup[coord])
            if "x" in plan.buffers[coord]:
                loads["x"] = x.reshape(-1)
            writes += [(coord, name, values, f"load {name} {coord}") for name, values in loads.items()]
        yield from host.write_all(writes)
        phases.setup_end = chip.env.now
        snapshots["setup"] = _snapshot(chip)
        cores = [chip.core(c) for c in plan.chain]
        bar = tqdm(total=sum(len(plan.ops[c]) for c in plan.chain), desc=progress, unit="op", leave=False,
                   disable=progress is None or not sys.stderr.isatty())
        programs = {c: _counted(plan.ops[c], bar) if not bar.disable else plan.ops[c] for c in plan.chain}
        yield simpy.AllOf(chip.env, [chip.process(run_ops(core, programs[core.coord])) for core in cores])
        bar.refresh()  # the final count, even if the last updates fell inside tqdm's refresh interval
        bar.close()
        phases.compute_end = chip.env.now
        snapshots["compute"] = _snapshot(chip)
        for core in cores:
            core.phase = "readback"
            chip.process(run_ops(core, plan.readback[core.coord]))
        yield from host.wait("out", plan.batch * n_out, "wait for outputs")
        phases.readback_end = chip.env.now
        snapshots["readback"] = _snapshot(chip)

    chip.process(driver())
    chip.run()
    out = chip.dram["out"].data.reshape(plan.batch, n_out).copy()
    if plan.net.layers[-1].activation == "softmax":
        out = activate("softmax", out)
    return chip, phases, out, snapshots


def validate(outputs: np.ndarray, reference: np.ndarray) -> tuple[float, bool]:
    """Largest absolute error and whether every output is within ``TOLERANCE``."""
    err = np.abs(outputs.astype(np.float64) - reference.astype(np.float64))
    limit = TOLERANCE * np.maximum(1.0, np.abs(reference))
    max_err = float(np.nanmax(err)) if np.all(np.isfinite(err)) else float("nan")
    return max_err, bool(np.all(np.isfinite(outputs)) and np.all(err <= limit))


def single_core_chip(chip: ChipConfig) -> ChipConfig:
    """One core of ``chip`` with SRAM room for any network: the baseline of ``speedup``.

    Capacity does not change timing, so the baseline measures the serial compute alone.
    """
    return chip.replace(name=f"{chip.name}-1core", rows=1, cols=1, sram_bytes=chip.sram_banks << 28)


def _phase_links(chip: Chip, before: list, after: list, cycles: float) -> tuple[float, int, int]:
    """Max on-chip link utilisation, on-chip and off-chip bytes moved between two snapshots."""
    util = 0.0
    on_chip = off_chip = 0
    for link, (b0, busy0, _), (b1, busy1, _) in zip(chip.network.links, before, after, strict=True):
        if link.kind == "cmesh" and cycles > 0:
            util = max(util, (busy1 - busy0) / cycles)
        if link.kind.startswith("elink"):
            off_chip += b1 - b0
        elif link.kind in INJECT_KINDS:
            on_chip += b1 - b0
    return util, on_chip, off_chip


def run(
    chip_config: ChipConfig,
    net: Network,
    strategy: str = "partitioned",
    x: np.ndarray | None = None,
    broadcast: str | None = None,
    trace: bool = False,
    baseline: bool = True,
    progress: bool = False,
) -> RunResult:
    """Map ``net`` with ``strategy``, simulate it on inputs ``x`` and validate the outputs.

    Args:
        chip_config: the chip.
        net: the network.
        strategy: a registered strategy name.
        x: inputs ``(batch, n_in)``; one seeded random sample if omitted.
        broadcast: hidden-value broadcast variant; the strategy's default if omitted.
        trace: keep every transfer (for traces and link plots).
        baseline: also run the single-core baseline for ``speedup``.
        progress: show progress bars on a terminal while simulating.
    """
    if x is None:
        x = random_inputs(net)
    x = check_inputs(net, x)
    chosen = get_strategy(strategy)
    plan = chosen.plan(chip_config, net, len(x), broadcast)
    chip, phases, outputs, snaps = simulate(plan, x, trace, f"{strategy} on {chip_config.name}" if progress else None)
    reference = net.forward(x)
    max_err, ok = validate(outputs, reference)
    compute = phases.compute_end - phases.setup_end
    zero = [(0, 0.0, 0.0)] * len(chip.network.links)
    util, on_compute, off_compute = _phase_links(chip, snaps["setup"], snaps["compute"], compute)
    _, on_total, _ = _phase_links(chip, zero, snaps["readback"], 1.0)
    single = None
    if baseline:
        one = chosen.plan(single_core_chip(chip_config), net, len(x), "bidir")
        _, one_phases, _, _ = simulate(one, x, progress="single-core baseline" if progress else None)
        single = one_phases.compute_end - one_phases.setup_end
    metrics: dict[str, Any] = {
        "chip": chip_config.name,
        "mesh": [chip_config.rows, chip_config.cols],
        "clock_hz": chip_config.clock_hz,
        "strategy": plan.strategy,
        "broadcast": plan.broadcast,
        "layers": net.sizes,
        "activations": [layer.activation for layer in net.layers],
        "batch": plan.batch,
        "setup_cycles": phases.setup_end,
        "compute_cycles": compute,
        "readback_cycles": phases.readback_end - phases.compute_end,
        "total_cycles": phases.readback_end,
        "time_us": chip_config.cycles_to_us(phases.readback_end),
        "compute_time_us": chip_config.cycles_to_us(compute),
        "single_core_cycles": single,
        "speedup": (single / compute) if single and compute > 0 else None,
        "max_abs_error": max_err,
        "validated": ok,
        "core_utilisation": [
            time_split(chip.core(c), phases.setup_end, phases.compute_end)["compute"] / compute if compute else 0.0
            for c in sorted(plan.chain, key=chip.mesh.index_of)
        ],
        "link_max_utilisation": util,
        "bytes_on_chip": on_total,
        "bytes_off_chip": off_chip_bytes(chip.network),
        "compute_bytes_on_chip": on_compute,
        "compute_bytes_off_chip": off_compute,
        "messages": chip.network.messages_sent,
        "sram_peak_bytes": [chip.cores[i].sram.peak_bytes for i in range(chip_config.n_cores)],
    }
    return RunResult(plan, chip, phases, outputs, reference, snaps, metrics)
