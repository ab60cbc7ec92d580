"""Input sets larger than the SRAM holds, run in chunks that fit.

Every core that computes first-layer products keeps the whole batch's inputs, so the rows
one run can take are bounded by the SRAM (``nnmap.mapping.largest_batch``). ``run_chunks`` runs
an input set as consecutive chunks of at most that many rows; ``run_all`` finds that many and
runs them. Each chunk is a run of its
own: the host loads the parameters and the chunk's inputs, the cores compute, the outputs
come back. The chunks run one after another, so the whole set's cycles, time, bytes and
messages are the chunks' sums; its outputs are theirs in order, and the per-chunk figures
are kept under ``chunks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from epiphany_sim import progress as progress_lines
from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap.mapping import largest_batch, plan_for
from nnmap.model import Network, check_inputs
from nnmap.run import run
from nnmap.strategies import get_strategy

SAME = (
    "chip",
    "mesh",
    "clock_hz",
    "strategy",
    "broadcast",
    "layers",
    "activations",
    "edges_cut",
    "imbalance",
    "load",
    "kernels",
)
"""Figures every chunk shares (and ``feed``, where the runs have it)."""
SUMMED = (
    "batch",
    "setup_cycles",
    "compute_cycles",
    "readback_cycles",
    "total_cycles",
    "parameters_cycles",
    "time_us",
    "setup_time_us",
    "compute_time_us",
    "readback_time_us",
    "single_core_cycles",
    "bytes_on_chip",
    "bytes_off_chip",
    "compute_bytes_on_chip",
    "compute_bytes_off_chip",
    "messages",
    "hop_bytes",
)
"""Figures that add up over chunks run one after another."""
HIGHEST = ("max_abs_error", "link_max_utilisation")
"""Figures whose worst chunk speaks for the whole set."""


def chunk_rows(
    config: ChipConfig,
    net: Network,
    strategy: str,
    broadcast: str | None,
    rows: int,
    feed: str = "preload",
    chain: list[Coord] | None = None,
) -> int:
    """The rows per chunk: the most, up to ``rows``, that fit; raise ``MappingError`` if not even one does."""
    chosen = get_strategy(strategy)
    fitting = largest_batch(chosen, config, net, rows, broadcast, feed, chain)
    if fitting == 0:
        plan_for(chosen, config, net, 1, broadcast, chain, feed)  # raises the error that names the fullest core
    return fitting


@dataclass
class ChunkedRun:
    """An input set run in chunks.

    Attributes:
        chunks: how many chunks ran.
        rows_per_chunk: the most rows a chunk holds (the last may hold fewer).
        outputs: the simulated outputs of every row, ``(rows, n_out)``.
        metrics: the whole set's figures: one chunk's own, or ``combine``'s of several.
    """

    chunks: int
    rows_per_chunk: int
    outputs: np.ndarray
    metrics: dict[str, Any]


def run_chunks(
    config: ChipConfig,
    net: Network,
    strategy: str,
    broadcast: str | None,
    x: np.ndarray,
    rows: int,
    progress: bool = False,
    feed: str = "preload",
    load: str | None = None,
    chain: list[Coord] | None = None,
) -> ChunkedRun:
    """Run inputs ``x`` in chunks of ``rows`` rows (``chunk_rows``); one chunk is a plain run and its figures.

    Args:
        config: the chip.
        net: the network.
        strategy: a registered strategy name.
        broadcast: hidden-value broadcast variant; the strategy's default if None.
        x: inputs ``(n, n_in)``.
        rows: the most rows a chunk holds.
        progress: report the chunks' progress (``epiphany_sim.progress``).
        feed: how the inputs reach the cores (``nnmap.lowering.feed``).
        load: how the host loads the initial values (``nnmap.session.LOADS``).
        chain: the cores in chain order; the snake over the usable cores if omitted.
    """
    starts = range(0, len(x), rows)
    figures, outputs = [], []
    with progress_lines.Bar(f"chunks of {strategy}", len(starts), "chunks", enabled=progress) as bar:
        for start in starts:  # keeps each chunk's figures and outputs, not its simulated chip
            result = run(config, net, strategy, x[start : start + rows], broadcast, feed=feed, load=load, chain=chain)
            figures.append(result.metrics)
            outputs.append(result.outputs)
            bar.update()
    metrics = figures[0] if len(figures) == 1 else combine(figures)
    return ChunkedRun(len(figures), rows, np.concatenate(outputs), metrics)


def run_all(
    config: ChipConfig,
    net: Network,
    strategy: str,
    x: np.ndarray,
    broadcast: str | None = None,
    progress: bool = False,
    feed: str = "preload",
) -> ChunkedRun:
    """Run inputs ``x``, however many rows, in chunks of as many rows as fit (``chunk_rows``).

    ``nnmap.run.run`` takes one run's rows; this takes any number, as ``nnmap run --inputs``
    does. Arguments as for ``run_chunks``.
    """
    x = check_inputs(net, x)
    rows = chunk_rows(config, net, strategy, broadcast, len(x), feed)
    return run_chunks(config, net, strategy, broadcast, x, rows, progress, feed)


def combine(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of chunks run one after another, as one set's, with each chunk's under ``chunks``.

    Cycles, time, bytes and messages add up; the error and the busiest link are the worst
    chunk's; the set is validated if every chunk is; each core's utilisation is its busy
    share of the summed compute time, and its SRAM peak the highest of any chunk. The time per
    sample is the chunks' own, weighted by their samples (each chunk loads the parameters again,
    so the set's is still a chunk's time per sample with the weights resident). The per-phase
    figures add up likewise (``combine_phases``). A pipeline's fill, drain and steady state stay
    with each chunk's figures.
    """
    first = chunks[0]
    combined: dict[str, Any] = {key: first[key] for key in (*SAME, "feed") if key in first}
    for key in SUMMED:
        values = [m[key] for m in chunks]
        combined[key] = None if None in values else sum(values)
    for key in HIGHEST:
        combined[key] = float(np.max([m[key] for m in chunks]))
    combined["validated"] = all(m["validated"] for m in chunks)
    samples = np.array([m["batch"] for m in chunks], dtype=float)
    for key in ("per_sample_cycles", "per_sample_time_us"):
        combined[key] = float(samples @ np.array([m[key] for m in chunks], dtype=float) / samples.sum())
    combined["phases"] = combine_phases([m["phases"] for m in chunks])
    compute = combined["compute_cycles"]
    single = combined["single_core_cycles"]
    combined["speedup"] = single / compute if single and compute > 0 else None
    weights = np.array([m["compute_cycles"] for m in chunks], dtype=float)
    busy = weights @ np.array([m["core_utilisation"] for m in chunks], dtype=float)
    combined["core_utilisation"] = (busy / compute if compute > 0 else busy * 0).tolist()
    combined["sram_peak_bytes"] = np.max([m["sram_peak_bytes"] for m in chunks], axis=0).tolist()
    combined["chunks"] = chunks
    return combined


def combine_phases(chunks: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The per-phase figures (``nnmap.run.phase_figures``) of chunks run one after another: cycles,
    time, bytes and busy cycles add up, each utilisation is its busy share of the summed cycles."""
    out = {}
    for phase in chunks[0]:
        runs = [c[phase] for c in chunks]
        cycles = sum(r["cycles"] for r in runs)
        weights = np.array([r["cycles"] for r in runs], dtype=float)

        def share(values: list[Any], weights: np.ndarray = weights, cycles: float = cycles) -> Any:
            busy = weights @ np.array(values, dtype=float)
            return (busy / cycles if cycles > 0 else busy * 0).tolist()

        out[phase] = {
            "cycles": cycles,
            "time_us": sum(r["time_us"] for r in runs),
            "core_utilisation": share([r["core_utilisation"] for r in runs]),
            "link_max_utilisation": max(r["link_max_utilisation"] for r in runs),
            "edge_max_utilisation": max(r["edge_max_utilisation"] for r in runs),
            "elink_utilisation": {
                k: share([r["elink_utilisation"][k] for r in runs]) for k in runs[0]["elink_utilisation"]
            },
            "busy_cycles": {k: sum(r["busy_cycles"][k] for r in runs) for k in runs[0]["busy_cycles"]},
            "bytes_on_chip": sum(r["bytes_on_chip"] for r in runs),
            "bytes_off_chip": sum(r["bytes_off_chip"] for r in runs),
        }
    return out
