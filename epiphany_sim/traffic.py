"""Synthetic traffic: the way network-on-chip researchers characterise a mesh.

Every core offers, with probability ``rate`` in each cycle (Bernoulli injection), one write
of one 8-byte transaction; a pattern picks where it goes. Offered transactions wait in a
queue at their core and leave it as fast as the core's port and the router's input FIFO
take them, whatever happened to earlier ones (an open-loop source).

Patterns (``TRAFFIC_PATTERNS``), on an R x C mesh with core index ``i = r * C + c``:

- ``uniform``: every other core equally likely (a core never writes to itself, which on
  the chip is a local store that does not touch the mesh).
- ``transpose``: ``(r, c)`` writes to ``(c, r)``; needs a square mesh.
- ``bit-complement``: ``(r, c)`` writes to ``(R-1-r, C-1-c)``, core ``n-1-i``; on a
  power-of-two mesh that is the bitwise complement of the index.
- ``hotspot``: with probability ``hotspot_fraction`` to the hotspot core (the centre by
  default), otherwise uniform; the hotspot core itself sends uniform traffic.
- ``neighbor``: one of the core's mesh neighbours, each equally likely (one hop).

A core that a pattern maps onto itself (the diagonal under transpose, the centre of an
odd mesh under bit-complement) offers nothing; ``injected_rate`` is the load the cores
actually offered, ``offered_rate`` the rate asked for.

Measurement, as in network-on-chip papers: a warm-up (``warmup_cycles``) fills the
network, a measurement window (``cycles``) follows, then a drain (``drain_cycles``) during
which the cores go on offering traffic while the transactions offered in the window
arrive. ``accepted_rate`` counts the transactions that arrived during the window, per core
per cycle; latency (from offer to arrival, the source queue included) and hops cover the
transactions offered in the window. The run is ``saturated`` when the accepted rate falls
below ``SATURATION_RATIO`` of the injected rate, when a transaction offered in the window
has not arrived by the end of the drain, or when the mean latency passes
``LATENCY_LIMIT`` times the zero-load latency of the window's transactions; its latency is
then not reported (``None``), because beyond saturation it only measures how long the
source queues were allowed to grow. Link utilisation is busy cycles within the window over
``cycles``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from epiphany_sim import fabric_kernel as k
from epiphany_sim import trace as chip_trace
from epiphany_sim.chip import Chip
from epiphany_sim.config import TICKS_PER_CYCLE, ChipConfig
from epiphany_sim.errors import TrafficError
from epiphany_sim.fabric import ticks
from epiphany_sim.mesh import Coord
from epiphany_sim.registry import Registry

SATURATION_RATIO = 0.9
LATENCY_LIMIT = 10.0
TRAFFIC_LINK_KINDS = ("inject", "cmesh", "eject")
_DRAWS_PER_CHUNK = 1 << 20  # random numbers drawn per batch: bounds memory on big meshes
_POST_CYCLES = 1000  # offers handed to the fabric per step of the run


TRAFFIC_PATTERNS: Registry[type[Pattern]] = Registry("traffic pattern")
"""Every traffic pattern by name, in the order they are defined here (``@TRAFFIC_PATTERNS.add``)."""


class Pattern:
    """Where each core's transactions go.

    Args:
        rows: mesh rows.
        cols: mesh columns.
        spec: the traffic request (patterns with parameters read them from it).

    Raises:
        TrafficError: the pattern does not apply to the mesh.
    """

    name: ClassVar[str]

    def __init__(self, rows: int, cols: int, spec: TrafficSpec) -> None:
        self.rows = rows
        self.cols = cols
        self.n_cores = rows * cols
        if self.n_cores < 2:
            raise TrafficError(f"synthetic traffic needs at least 2 cores, the mesh is {rows}x{cols}")

    def senders(self) -> np.ndarray:
        """Indices of the cores that offer traffic, ascending."""
        return np.arange(self.n_cores)

    def destinations(self, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Destination core index of one transaction from each of ``sources``."""
        raise NotImplementedError


@TRAFFIC_PATTERNS.add
class Uniform(Pattern):
    """Every other core equally likely."""

    name = "uniform"

    def destinations(self, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        picks = rng.integers(0, self.n_cores - 1, size=len(sources))
        return picks + (picks >= sources)  # skip the source itself


class _Permutation(Pattern):
    """A fixed destination per core; cores mapped onto themselves stay silent."""

    def __init__(self, rows: int, cols: int, spec: TrafficSpec) -> None:
        super().__init__(rows, cols, spec)
        self.targets = self._targets()

    def _targets(self) -> np.ndarray:
        raise NotImplementedError

    def senders(self) -> np.ndarray:
        return np.flatnonzero(self.targets != np.arange(self.n_cores))

    def destinations(self, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.targets[sources]


@TRAFFIC_PATTERNS.add
class Transpose(_Permutation):
    """Core ``(r, c)`` writes to ``(c, r)``."""

    name = "transpose"

    def _targets(self) -> np.ndarray:
        if self.rows != self.cols:
            raise TrafficError(f"transpose needs a square mesh, not {self.rows}x{self.cols}")
        index = np.arange(self.n_cores)
        return (index % self.cols) * self.cols + index // self.cols


@TRAFFIC_PATTERNS.add
class BitComplement(_Permutation):
    """Core ``(r, c)`` writes to ``(R-1-r, C-1-c)``: index ``i`` to ``n-1-i``."""

    name = "bit-complement"

    def _targets(self) -> np.ndarray:
        return self.n_cores - 1 - np.arange(self.n_cores)


@TRAFFIC_PATTERNS.add
class Hotspot(Uniform):
    """Uniform traffic with a share ``hotspot_fraction`` sent to one hotspot core."""

    name = "hotspot"

    def __init__(self, rows: int, cols: int, spec: TrafficSpec) -> None:
        super().__init__(rows, cols, spec)
        self.hotspot = spec.hotspot if spec.hotspot is not None else (rows // 2, cols // 2)
        r, c = self.hotspot
        if not (0 <= r < rows and 0 <= c < cols):
            raise TrafficError(f"hotspot {self.hotspot} is outside the {rows}x{cols} mesh")
        self.hotspot_index = r * cols + c
        self.fraction = spec.hotspot_fraction

    def destinations(self, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        dests = super().destinations(sources, rng)
        to_hotspot = (rng.random(len(sources)) < self.fraction) & (sources != self.hotspot_index)
        dests[to_hotspot] = self.hotspot_index
        return dests


@TRAFFIC_PATTERNS.add
class Neighbor(Pattern):
    """One of the source's mesh neighbours, each equally likely."""

    name = "neighbor"

    def __init__(self, rows: int, cols: int, spec: TrafficSpec) -> None:
        super().__init__(rows, cols, spec)
        self.table = np.zeros((self.n_cores, 4), dtype=np.int64)
        self.degree = np.zeros(self.n_cores, dtype=np.int64)
        for r in range(rows):
            for c in range(cols):
                i = r * cols + c
                for nr, nc in ((r, c + 1), (r, c - 1), (r + 1, c), (r - 1, c)):
                    if 0 <= nr < rows and 0 <= nc < cols:
                        self.table[i, self.degree[i]] = nr * cols + nc
                        self.degree[i] += 1

    def destinations(self, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        picks = (rng.random(len(sources)) * self.degree[sources]).astype(np.int64)
        return self.table[sources, picks]


@dataclass(frozen=True)
class TrafficSpec:
    """A synthetic traffic request, apart from the chip it runs on.

    Attributes:
        pattern: a key of ``TRAFFIC_PATTERNS``.
        rate: offered transactions per core per cycle, in (0, 1].
        cycles: length of the measurement window.
        seed: seed of the numpy random generator; the same seed gives the same run.
        hotspot: the hotspot core of the ``hotspot`` pattern (default: the mesh centre).
        hotspot_fraction: share of each core's traffic sent to the hotspot, in [0, 1].
        warmup_cycles: cycles of traffic before the window.
        drain_cycles: cycles of traffic after the window, for the window's transactions to arrive.
    """

    pattern: str = "uniform"
    rate: float = 0.1
    cycles: int = 10_000
    seed: int = 0
    hotspot: Coord | None = None
    hotspot_fraction: float = 0.1
    warmup_cycles: int = 1_000
    drain_cycles: int = 2_000

    def __post_init__(self) -> None:
        if self.pattern not in TRAFFIC_PATTERNS:
            raise TrafficError(f"unknown traffic pattern {self.pattern!r}: use one of {', '.join(TRAFFIC_PATTERNS)}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, int | float) or not 0 < self.rate <= 1:
            raise TrafficError(f"rate is offered transactions per core per cycle, in (0, 1]; got {self.rate!r}")
        if isinstance(self.cycles, bool) or not isinstance(self.cycles, int) or self.cycles < 1:
            raise TrafficError(f"cycles must be a positive integer, got {self.cycles!r}")
        for name in ("warmup_cycles", "drain_cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TrafficError(f"{name} must be a non-negative integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise TrafficError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not 0 <= self.hotspot_fraction <= 1:
            raise TrafficError(f"hotspot_fraction must be in [0, 1], got {self.hotspot_fraction!r}")


@dataclass(frozen=True)
class TrafficResult:
    """What a synthetic traffic run measured.

    Attributes:
        chip: chip name.
        rows: mesh rows.
        cols: mesh columns.
        pattern: traffic pattern.
        offered_rate: the rate asked for, transactions per core per cycle.
        injected_rate: transactions the cores offered in the window, per core per cycle.
        accepted_rate: transactions that arrived during the window, per core per cycle.
        avg_latency_cycles: mean latency of the window's transactions, from offer (source
            queue included) to arrival; ``None`` when saturated.
        p99_latency_cycles: 99th percentile of that latency; ``None`` when saturated.
        max_latency_cycles: largest latency; ``None`` when saturated.
        zero_load_latency_cycles: mean latency the same transactions would have on an idle chip.
        avg_hops: mean router-to-router hops of the window's transactions.
        transactions: transactions offered in the window.
        delivered_fraction: share of them that arrived by the end of the drain.
        saturated: see the module docstring.
        cycles: length of the measurement window.
        warmup_cycles: cycles before it.
        drain_cycles: cycles after it.
        seed: random seed.
        hotspot: hotspot core of the ``hotspot`` pattern, else None.
        hotspot_fraction: share of traffic sent to it, else None.
        max_link_utilisation: the busiest link's utilisation within the window.
        links: per directed link of the write network: name and utilisation within the window.
    """

    chip: str
    rows: int
    cols: int
    pattern: str
    offered_rate: float
    injected_rate: float
    accepted_rate: float
    avg_latency_cycles: float | None
    p99_latency_cycles: float | None
    max_latency_cycles: float | None
    zero_load_latency_cycles: float
    avg_hops: float
    transactions: int
    delivered_fraction: float
    saturated: bool
    cycles: int
    warmup_cycles: int
    drain_cycles: int
    seed: int
    hotspot: list[int] | None
    hotspot_fraction: float | None
    max_link_utilisation: float
    links: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, ready for JSON."""
        return dataclasses.asdict(self)


def offers(pattern: Pattern, spec: TrafficSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cycle, source, destination)`` of every transaction offered in the whole run, by cycle."""
    rng = np.random.default_rng(spec.seed)
    senders = pattern.senders()
    total = spec.warmup_cycles + spec.cycles + spec.drain_cycles
    chunk_cycles = max(1, _DRAWS_PER_CHUNK // len(senders))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for first in range(0, total, chunk_cycles):
        n_cycles = min(chunk_cycles, total - first)
        cycle, column = np.nonzero(rng.random((n_cycles, len(senders))) < spec.rate)
        sources = senders[column]
        parts.append((cycle + first, sources, pattern.destinations(sources, rng)))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))  # type: ignore[return-value]


def run_traffic(chip: Chip, spec: TrafficSpec) -> TrafficResult:
    """Run synthetic traffic on a fresh chip: warm-up, measurement window, drain.

    Args:
        chip: a chip on which nothing has run yet (the run makes it keep a record of every
            transaction).
        spec: the traffic request.

    Returns:
        The measures of the run.

    Raises:
        TrafficError: the chip has already run, the pattern does not apply to its mesh, or no
            transaction was offered in the window (raise ``rate`` or ``cycles``).
    """
    fabric = chip.fabric
    if chip.env.now or fabric.messages_sent:
        raise TrafficError("synthetic traffic needs a fresh chip on which nothing has run")
    fabric.record_transfers()
    pattern = TRAFFIC_PATTERNS[spec.pattern](chip.config.rows, chip.config.cols, spec)
    cycle, source, dest = offers(pattern, spec)
    fabric.reserve_records(len(cycle))
    at_tick = cycle * TICKS_PER_CYCLE + ticks(chip.config.write_overhead_cycles)
    start, end = spec.warmup_cycles, spec.warmup_cycles + spec.cycles
    stops = sorted({*range(0, end + spec.drain_cycles, _POST_CYCLES), start, end, end + spec.drain_cycles})
    busy = {}
    for first, last in itertools.pairwise(stops):
        # Posting as the run goes keeps the fabric's table of messages small.
        lo, hi = np.searchsorted(cycle, (first, last))
        fabric.post_many(source[lo:hi], dest[lo:hi], at_tick[lo:hi], chip.config.transaction_bytes)
        chip.run(until=last)
        if last in (start, end):
            busy[last] = np.array([link.busy_cycles for link in fabric.links])
    if start == 0:
        busy[0] = np.zeros(len(fabric.links))
    in_window = (cycle >= start) & (cycle < end)
    if not in_window.any():
        raise TrafficError(
            f"no transaction was offered in {spec.cycles} cycles at rate {spec.rate}: raise rate or cycles"
        )
    return _result(chip, pattern, spec, busy[end] - busy[start], int(in_window.sum()))


def _result(chip: Chip, pattern: Pattern, spec: TrafficSpec, window_busy: np.ndarray, offered: int) -> TrafficResult:
    """Summarise a finished run from the fabric's records."""
    config, fabric = chip.config, chip.fabric
    n_cores, cycles = pattern.n_cores, spec.cycles
    start, end = spec.warmup_cycles, spec.warmup_cycles + cycles
    recs = fabric.records(ordered=False)
    posted = (recs[:, k.C_POST] - ticks(config.write_overhead_cycles)) / TICKS_PER_CYCLE
    delivered = recs[:, k.C_DEL] / TICKS_PER_CYCLE
    accepted_rate = int(np.count_nonzero((delivered >= start) & (delivered < end))) / (n_cores * cycles)
    mine = (posted >= start) & (posted < end)
    latency = delivered[mine] - posted[mine]
    zero_load = fabric.zero_load_cycles(recs, mine)
    injected_rate = offered / (n_cores * cycles)
    zero_load_mean = float(zero_load.mean()) if len(zero_load) else 0.0
    saturated = (
        accepted_rate < SATURATION_RATIO * injected_rate
        or len(latency) < offered
        or (len(latency) > 0 and latency.mean() > LATENCY_LIMIT * zero_load_mean)
    )
    links = [
        {"link": link.name, "utilisation": busy / cycles}
        for link, busy in zip(fabric.links, window_busy.tolist(), strict=True)
        if link.kind in TRAFFIC_LINK_KINDS
    ]
    return TrafficResult(
        chip=config.name,
        rows=config.rows,
        cols=config.cols,
        pattern=spec.pattern,
        offered_rate=float(spec.rate),
        injected_rate=injected_rate,
        accepted_rate=accepted_rate,
        avg_latency_cycles=None if saturated else float(latency.mean()),
        p99_latency_cycles=None if saturated else float(np.percentile(latency, 99)),
        max_latency_cycles=None if saturated else float(latency.max()),
        zero_load_latency_cycles=zero_load_mean,
        avg_hops=float(recs[:, k.C_HOPS][mine].mean()) if len(latency) else 0.0,
        transactions=offered,
        delivered_fraction=len(latency) / offered,
        saturated=bool(saturated),
        cycles=cycles,
        warmup_cycles=spec.warmup_cycles,
        drain_cycles=spec.drain_cycles,
        seed=spec.seed,
        hotspot=list(pattern.hotspot) if isinstance(pattern, Hotspot) else None,
        hotspot_fraction=spec.hotspot_fraction if isinstance(pattern, Hotspot) else None,
        max_link_utilisation=max(row["utilisation"] for row in links),
        links=links,
    )


def sweep(config: ChipConfig, spec: TrafficSpec, rates: Iterable[float]) -> list[TrafficResult]:
    """One run per offered rate, each on a fresh chip, otherwise as ``spec`` asks."""
    return [run_traffic(Chip(config, record=True), dataclasses.replace(spec, rate=rate)) for rate in rates]


def trace_events(chip: Chip) -> list[dict[str, Any]]:
    """A finished traffic run on a traced chip, as Chrome trace events.

    Each core's track has one span per transaction it offered within the trace window, from
    the cycle it was offered until its last byte had left the core (its time in the source
    queue and the port). The links' tracks hold what the trace kept: a span per transaction
    on each link within the window, or a counter of each link's utilisation per bin.
    """
    us = 1e6 / chip.config.clock_hz
    events = chip_trace.core_tracks(chip, host=False)
    window = chip.fabric.trace.window if chip.fabric.trace else None
    for transfer in chip.fabric.transfers_between(*window) if window else []:
        source = chip.mesh.index_of(transfer.src)
        args = {
            "bytes": transfer.n_bytes,
            "dst": str(transfer.dst),
            "hops": transfer.hops,
            "latency_cycles": transfer.latency_cycles,
            "wait_cycles": transfer.wait_cycles,
        }
        events.append(
            chip_trace.span(
                chip_trace.CORES_PID,
                source + 1,
                "send",
                f"write to {transfer.dst}",
                transfer.sent_at,
                transfer.injected_at,
                us,
                args,
            )
        )
    return events + chip_trace.link_events(chip)
