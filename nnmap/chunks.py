"""Input sets larger than the SRAM holds, run in chunks that fit.

Every core that computes first-layer products keeps the whole batch's inputs, so the rows
one run can take are bounded by the SRAM (``Strategy.largest_batch``). ``run_chunks`` runs
an input set as consecutive chunks of at most that many rows. Each chunk is a run of its
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
from nnmap.model import Network
from nnmap.run import run
from nnmap.strategies import get_strategy

SAME = ("chip", "mesh", "clock_hz", "strategy", "broadcast", "layers", "activations", "edges_cut", "imbalance")
"""Figures every chunk shares (and ``feed``, where the runs have it)."""
SUMMED = (
    "batch",
    "setup_cycles",
    "compute_cycles",
    "readback_cycles",
    "total_cycles",
    "time_us",
    "compute_time_us",
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
    config: ChipConfig, net: Network, strategy: str, broadcast: str | None, rows: int, feed: str = "preload"
) -> int:
    """The rows per chunk: the most, up to ``rows``, that fit; raise ``MappingError`` if not even one does."""
    chosen = get_strategy(strategy)
    fitting = chosen.largest_batch(config, net, rows, broadcast, feed)
    if fitting == 0:
        chosen.plan(config, net, 1, broadcast, feed=feed)  # raises the error that names the fullest core
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
    """
    starts = range(0, len(x), rows)
    figures, outputs = [], []
    with progress_lines.Bar(f"chunks of {strategy}", len(starts), "chunks", enabled=progress) as bar:
        for start in starts:  # keeps each chunk's figures and outputs, not its simulated chip
            result = run(config, net, strategy, x[start : start + rows], broadcast, feed=feed)
            figures.append(result.metrics)
            outputs.append(result.outputs)
            bar.update()
    metrics = figures[0] if len(figures) == 1 else combine(figures)
    return ChunkedRun(len(figures), rows, np.concatenate(outputs), metrics)


def combine(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of chunks run one after another, as one set's, with each chunk's under ``chunks``.

    Cycles, time, bytes and messages add up; the error and the busiest link are the worst
    chunk's; the set is validated if every chunk is; each core's utilisation is its busy
    share of the summed compute time, and its SRAM peak the highest of any chunk. A pipeline's
    fill, drain and steady state stay with each chunk's figures.
    """
    first = chunks[0]
    combined: dict[str, Any] = {key: first[key] for key in (*SAME, "feed") if key in first}
    for key in SUMMED:
        values = [m[key] for m in chunks]
        combined[key] = None if None in values else sum(values)
    for key in HIGHEST:
        combined[key] = float(np.max([m[key] for m in chunks]))
    combined["validated"] = all(m["validated"] for m in chunks)
    compute = combined["compute_cycles"]
    single = combined["single_core_cycles"]
    combined["speedup"] = single / compute if single and compute > 0 else None
    weights = np.array([m["compute_cycles"] for m in chunks], dtype=float)
    busy = weights @ np.array([m["core_utilisation"] for m in chunks], dtype=float)
    combined["core_utilisation"] = (busy / compute if compute > 0 else busy * 0).tolist()
    combined["sram_peak_bytes"] = np.max([m["sram_peak_bytes"] for m in chunks], axis=0).tolist()
    combined["chunks"] = chunks
    return combined
