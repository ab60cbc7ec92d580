"""Synthetic traffic: the way network-on-chip researchers characterise a mesh.

During a window of ``cycles`` cycles every core offers, with probability ``rate`` in each
cycle (Bernoulli injection), one write of one 8-byte transaction; a pattern picks where it
goes. Afterwards no new traffic is offered and the run goes on until every offered
transaction has arrived.

Patterns (``PATTERNS``), on an R x C mesh with core index ``i = r * C + c``:

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

Source queue and backpressure. Offered transactions wait in a FIFO queue at their core;
a core issues at most one transaction per ``cmesh_cycles_per_transaction``. The network
model has no router buffers and lets a transaction that waits for a busy link sit in the
mesh for free; without more, a core would keep injecting behind it and traffic that
avoids the congested links would overtake the traffic that needs them, so accepted
throughput could rise above the bisection bound (uniform traffic offered at 1.0 on 8x8
was accepted at 0.54 per core per cycle, above 4/k = 0.5). As the Epiphany mesh pushes
back on its senders, a core here cannot issue its next transaction until its previous one
has made up the cycles it waited for links (``Transfer.wait_cycles``): the wait is charged
to the source, as if the blocked transaction had held the core's port. Latency counts from the
cycle a transaction is offered, so it includes the time in the source queue.

Measures (``TrafficResult``): ``accepted_rate`` is transactions that arrived by the end of
the window per core per cycle; latency and hop statistics cover every offered
transaction; ``saturated`` is true when ``accepted_rate < SATURATION_RATIO *
injected_rate``, that is when more than a tenth of the offered load has not arrived by the
end of the window; per-link utilisation is busy cycles within the window over ``cycles``.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import simpy

from epiphany_sim import trace as chip_trace
from epiphany_sim.chip import Chip
from epiphany_sim.config import ChipConfig
from epiphany_sim.errors import TrafficError
from epiphany_sim.mesh import Coord

SATURATION_RATIO = 0.9
TRAFFIC_LINK_KINDS = ("inject", "cmesh", "eject")
_DRAWS_PER_CHUNK = 1 << 20  # random numbers drawn per batch: bounds memory on big meshes


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


class Transpose(_Permutation):
    """Core ``(r, c)`` writes to ``(c, r)``."""

    name = "transpose"

    def _targets(self) -> np.ndarray:
        if self.rows != self.cols:
            raise TrafficError(f"transpose needs a square mesh, not {self.rows}x{self.cols}")
        index = np.arange(self.n_cores)
        return (index % self.cols) * self.cols + index // self.cols


class BitComplement(_Permutation):
    """Core ``(r, c)`` writes to ``(R-1-r, C-1-c)``: index ``i`` to ``n-1-i``."""

    name = "bit-complement"

    def _targets(self) -> np.ndarray:
        return self.n_cores - 1 - np.arange(self.n_cores)


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


PATTERNS: dict[str, type[Pattern]] = {p.name: p for p in (Uniform, Transpose, BitComplement, Hotspot, Neighbor)}


@dataclass(frozen=True)
class TrafficSpec:
    """A synthetic traffic request, apart from the chip it runs on.

    Attributes:
        pattern: a key of ``PATTERNS``.
        rate: offered transactions per core per cycle, in (0, 1].
        cycles: length of the injection window.
        seed: seed of the numpy random generator; the same seed gives the same run.
        hotspot: the hotspot core of the ``hotspot`` pattern (default: the mesh centre).
        hotspot_fraction: share of each core's traffic sent to the hotspot, in [0, 1].
    """

    pattern: str = "uniform"
    rate: float = 0.1
    cycles: int = 10_000
    seed: int = 0
    hotspot: Coord | None = None
    hotspot_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise TrafficError(f"unknown traffic pattern {self.pattern!r}: use one of {', '.join(PATTERNS)}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, int | float) or not 0 < self.rate <= 1:
            raise TrafficError(f"rate is offered transactions per core per cycle, in (0, 1]; got {self.rate!r}")
        if isinstance(self.cycles, bool) or not isinstance(self.cycles, int) or self.cycles < 1:
            raise TrafficError(f"cycles must be a positive integer, got {self.cycles!r}")
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
        injected_rate: transactions the cores offered per core per cycle.
        accepted_rate: transactions that arrived by the end of the window per core per cycle.
        avg_latency_cycles: mean latency from offer (source queue included) to arrival.
        p99_latency_cycles: 99th percentile of that latency.
        max_latency_cycles: largest latency.
        avg_hops: mean router-to-router hops.
        transactions: transactions offered during the window.
        saturated: ``accepted_rate < SATURATION_RATIO * injected_rate``.
        cycles: length of the injection window.
        drained_at_cycle: cycle the last transaction arrived.
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
    avg_latency_cycles: float
    p99_latency_cycles: float
    max_latency_cycles: float
    avg_hops: float
    transactions: int
    saturated: bool
    cycles: int
    drained_at_cycle: float
    seed: int
    hotspot: list[int] | None
    hotspot_fraction: float | None
    max_link_utilisation: float
    links: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, ready for JSON."""
        return dataclasses.asdict(self)


class _TrafficRun:
    """Offers a pattern's transactions to a chip's network and records what they did."""

    def __init__(self, chip: Chip, pattern: Pattern, spec: TrafficSpec) -> None:
        self.chip = chip
        self.env: simpy.Environment = chip.env
        self.pattern = pattern
        self.spec = spec
        self.coords = [chip.mesh.coord_of(i) for i in range(pattern.n_cores)]
        self.issue_cycles = chip.config.cmesh_cycles_per_transaction
        self.message_bytes = chip.config.transaction_bytes
        self.queues: list[deque[tuple[int, int]]] = [deque() for _ in range(pattern.n_cores)]
        self.ready_at = [0.0] * pattern.n_cores  # cycle each core may issue again
        self.wake: list[tuple[float, int]] = []  # (cycle, core) for cores with a queue
        self.offered_at: list[int] = []
        self.delivered_at: list[float] = []
        self.hops: list[int] = []
        self.window_busy_cycles: list[float] = []

    def offers(self) -> Iterator[tuple[int, list[int], list[int]]]:
        """``(cycle, sources, destinations)`` for every cycle of the window with offers."""
        spec, pattern = self.spec, self.pattern
        rng = np.random.default_rng(spec.seed)
        senders = pattern.senders()
        chunk_cycles = max(1, _DRAWS_PER_CHUNK // len(senders))
        for first in range(0, spec.cycles, chunk_cycles):
            n_cycles = min(chunk_cycles, spec.cycles - first)
            cycle, column = np.nonzero(rng.random((n_cycles, len(senders))) < spec.rate)
            sources = senders[column]
            dests = pattern.destinations(sources, rng)
            bounds = np.searchsorted(cycle, np.arange(n_cycles + 1)).tolist()
            src_list, dst_list = sources.tolist(), dests.tolist()
            for c in np.flatnonzero(np.diff(bounds)).tolist():
                lo, hi = bounds[c], bounds[c + 1]
                yield first + c, src_list[lo:hi], dst_list[lo:hi]

    def send(self, source: int, dest: int, offered_at: int) -> None:
        """Issue one transaction now; the core may issue again once it has made up its waits."""
        now = self.env.now
        transfer = self.chip.network.send(self.coords[source], self.coords[dest], self.message_bytes)
        self.offered_at.append(offered_at)
        self.delivered_at.append(transfer.delivered_at)
        self.hops.append(transfer.hops)
        self.ready_at[source] = now + self.issue_cycles + transfer.wait_cycles

    def offer(self, source: int, dest: int, cycle: int) -> None:
        """A core offers a transaction: issue it now or queue it behind the others."""
        queue = self.queues[source]
        if not queue and self.ready_at[source] <= cycle:
            self.send(source, dest, cycle)
            return
        if not queue:
            heapq.heappush(self.wake, (self.ready_at[source], source))
        queue.append((cycle, dest))

    def release(self) -> None:
        """Issue the queued transaction of every core that may issue now."""
        wake, now = self.wake, self.env.now
        while wake and wake[0][0] <= now:
            source = heapq.heappop(wake)[1]
            queue = self.queues[source]
            offered_at, dest = queue.popleft()
            self.send(source, dest, offered_at)
            if queue:
                heapq.heappush(wake, (self.ready_at[source], source))

    def advance(self, cycle: float) -> Generator[simpy.Event, Any, None]:
        """Serve the source queues up to ``cycle`` (exclusive), then move to ``cycle``."""
        env, wake = self.env, self.wake
        while wake and wake[0][0] < cycle:
            yield env.timeout(wake[0][0] - env.now)
            self.release()
        if cycle > env.now:
            yield env.timeout(cycle - env.now)

    def drive(self) -> Generator[simpy.Event, Any, None]:
        """The one process of the run: offers during the window, then drains the queues."""
        for cycle, sources, dests in self.offers():
            yield from self.advance(cycle)
            self.release()
            for source, dest in zip(sources, dests, strict=True):
                self.offer(source, dest, cycle)
        yield from self.advance(self.spec.cycles)
        self.window_busy_cycles = [
            link.busy_cycles - link.reserved_after(self.spec.cycles) for link in self.chip.network.links
        ]
        while self.wake:
            yield self.env.timeout(self.wake[0][0] - self.env.now)
            self.release()

    def result(self) -> TrafficResult:
        """Summarise the finished run."""
        spec, config = self.spec, self.chip.config
        n_cores, cycles = self.pattern.n_cores, spec.cycles
        offered_at = np.asarray(self.offered_at, dtype=np.float64)
        delivered_at = np.asarray(self.delivered_at, dtype=np.float64)
        latency = delivered_at - offered_at
        transactions = len(latency)
        injected_rate = transactions / (n_cores * cycles)
        accepted_rate = int(np.count_nonzero(delivered_at <= cycles)) / (n_cores * cycles)
        links = [
            {"link": link.name, "utilisation": busy / cycles}
            for link, busy in zip(self.chip.network.links, self.window_busy_cycles, strict=True)
            if link.kind in TRAFFIC_LINK_KINDS
        ]
        is_hotspot = isinstance(self.pattern, Hotspot)
        return TrafficResult(
            chip=config.name,
            rows=config.rows,
            cols=config.cols,
            pattern=spec.pattern,
            offered_rate=float(spec.rate),
            injected_rate=injected_rate,
            accepted_rate=accepted_rate,
            avg_latency_cycles=float(latency.mean()),
            p99_latency_cycles=float(np.percentile(latency, 99)),
            max_latency_cycles=float(latency.max()),
            avg_hops=float(np.mean(self.hops)),
            transactions=transactions,
            saturated=accepted_rate < SATURATION_RATIO * injected_rate,
            cycles=cycles,
            drained_at_cycle=float(delivered_at.max()),
            seed=spec.seed,
            hotspot=list(self.pattern.hotspot) if is_hotspot else None,
            hotspot_fraction=spec.hotspot_fraction if is_hotspot else None,
            max_link_utilisation=max(row["utilisation"] for row in links),
            links=links,
        )


def run_traffic(chip: Chip, spec: TrafficSpec) -> TrafficResult:
    """Run synthetic traffic on a fresh chip until every offered transaction has arrived.

    Args:
        chip: a chip on which nothing has run yet; build it with ``trace=True`` to keep
            every transfer.
        spec: the traffic request.

    Returns:
        The measures of the run.

    Raises:
        TrafficError: the chip has already run, the pattern does not apply to its mesh,
            or no transaction was offered (raise ``rate`` or ``cycles``).
    """
    if chip.env.now or chip.network.messages_sent:
        raise TrafficError("synthetic traffic needs a fresh chip on which nothing has run")
    pattern = PATTERNS[spec.pattern](chip.config.rows, chip.config.cols, spec)
    run = _TrafficRun(chip, pattern, spec)
    chip.process(run.drive())
    chip.run()
    if not run.offered_at:
        raise TrafficError(
            f"no transaction was offered in {spec.cycles} cycles at rate {spec.rate}: raise rate or cycles"
        )
    return run.result()


def sweep(config: ChipConfig, spec: TrafficSpec, rates: Iterable[float]) -> list[TrafficResult]:
    """One run per offered rate, each on a fresh chip, otherwise as ``spec`` asks."""
    return [run_traffic(Chip(config), dataclasses.replace(spec, rate=rate)) for rate in rates]


def trace_events(chip: Chip) -> list[dict[str, Any]]:
    """A finished traffic run on a chip built with ``trace=True``, as Chrome trace events.

    Each core's track has one span per transaction it issued, from the cycle it issued it
    until the cycle it could issue again: ``cmesh_cycles_per_transaction`` plus the link
    waits charged to the source (the backpressure rule of this module), so a core's spans
    never overlap. Each busy link's track has one span per transaction that held it.
    """
    us = 1e6 / chip.config.clock_hz
    issue = chip.config.cmesh_cycles_per_transaction
    events = chip_trace.core_tracks(chip, host=False)
    for transfer in chip.network.transfers:
        source = chip.mesh.index_of(transfer.src)
        args = {"bytes": transfer.n_bytes, "dst": str(transfer.dst), "hops": transfer.hops,
                "wait_cycles": transfer.wait_cycles, "latency_cycles": transfer.latency_cycles}
        events.append(chip_trace.span(chip_trace.CORES_PID, source + 1, "send", f"write to {transfer.dst}",
                                      transfer.sent_at, transfer.sent_at + issue + transfer.wait_cycles, us, args))
    return events + chip_trace.link_events(chip)
