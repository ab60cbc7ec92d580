"""Links, transfer timing and contention on the three networks.

Transaction-level model. A message of B bytes is ``ceil(B / 8)`` transactions sent back
to back. Its head crosses each router hop in ``hop_latency_cycles``; the body streams
behind it at the rate of the slowest link on the route (one transaction per cycle on the
cMesh, one per 8 cycles on the eLink and on the read network), and every link on the route
is held for the whole body, as a wormhole-routed packet holds its path. A lone message
therefore arrives ``hops * 1.5 + transactions * cycles_per_transaction +
write_overhead_cycles`` after it is sent.

Contention: each directed link keeps the intervals it is reserved for. A transfer takes,
on each link in route order, the first free interval long enough for its body that starts
no earlier than its head can arrive; the difference is the transfer's wait on that link.
Transfers claim links when they are sent, so an earlier send never waits for a later one.
Buffers inside routers are not modelled: a head blocked downstream does not hold the links
behind it longer.

Speed. ``Network.send`` is the simulator's innermost loop (every transaction of a traffic
run, every hidden value a mapper relays), so it walks a route cached per (source,
destination, network) with each link's reservation lists at hand, and takes the common
free-link cases inline. A link's byte, transaction, transfer and busy-cycle counters are
kept per route while transfers are sent and added to the links only when a counter is
read; where that could round differently (a non-dyadic cycles-per-transaction) they are
added at once, so every counter holds the same bits as if it were updated per transfer.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simpy
from simpy.events import NORMAL

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Mesh

_PRUNE_AT = 32
_BUSY_GRAIN = 1024  # busy times are multiples of 1/_BUSY_GRAIN cycle when counts are deferred
_BUSY_LIMIT = 1 << 20
_NO_SPANS: tuple[()] = ()
_PRUNE_MASK = 4095  # untraced sends between sweeps that drop past reservations, less one


class Link:
    """Runtime state of one directed link: its reservations and counters.

    ``bytes``, ``transactions``, ``transfers`` and ``busy_cycles`` are read through the
    network, which adds the counts it keeps per route first; ``wait_cycles`` and
    ``max_wait_cycles`` are updated as transfers wait.
    """

    __slots__ = (
        "index", "name", "kind", "cycles_per_transaction", "latency_cycles",
        "_starts", "_ends", "_bytes", "_transactions", "_transfers", "_busy_cycles",
        "wait_cycles", "max_wait_cycles", "_network",
    )

    def __init__(self, index: int, name: str, kind: str, cycles_per_transaction: float, latency_cycles: float,
                 network: Network | None = None) -> None:
        self.index = index
        self.name = name
        self.kind = kind
        self.cycles_per_transaction = cycles_per_transaction
        self.latency_cycles = latency_cycles
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._bytes = 0
        self._transactions = 0
        self._transfers = 0
        self._busy_cycles = 0.0
        self.wait_cycles = 0.0
        self.max_wait_cycles = 0.0
        self._network = network

    def _settled(self) -> Link:
        if self._network is not None and self._network._dirty:
            self._network._settle()
        return self

    @property
    def bytes(self) -> int:
        """Payload bytes that crossed the link."""
        return self._settled()._bytes

    @property
    def transactions(self) -> int:
        """Transactions that crossed the link."""
        return self._settled()._transactions

    @property
    def transfers(self) -> int:
        """Messages that crossed the link."""
        return self._settled()._transfers

    @property
    def busy_cycles(self) -> float:
        """Cycles the link is reserved for, sent so far (some may lie in the future)."""
        return self._settled()._busy_cycles

    def reserve(self, earliest: float, duration: float, now: float) -> float:
        """Claim the first free ``duration``-long interval starting at or after ``earliest``."""
        starts, ends = self._starts, self._ends
        if len(ends) > _PRUNE_AT and ends[0] <= now:
            drop = bisect_right(ends, now)
            del starts[:drop], ends[:drop]
        # Fast path: the link is free from ``earliest`` on (the common case below saturation).
        if not ends or ends[-1] < earliest:
            starts.append(earliest)
            ends.append(earliest + duration)
            return earliest
        if ends[-1] == earliest:
            ends[-1] = earliest + duration
            return earliest
        return self._reserve_among(earliest, duration)

    def _reserve_among(self, earliest: float, duration: float) -> float:
        """``reserve`` once the link is known to be busy at or after ``earliest``."""
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, earliest)
        start = earliest
        n = len(starts)
        while i < n and starts[i] < start + duration:
            start = ends[i]  # overlaps: ends are sorted and all lie past ``start``
            i += 1
        end = start + duration
        # Merge with touching neighbours so a saturated link keeps one interval.
        joins_left = i > 0 and ends[i - 1] == start
        joins_right = i < n and starts[i] == end
        if joins_left and joins_right:
            ends[i - 1] = ends[i]
            del starts[i], ends[i]
        elif joins_left:
            ends[i - 1] = end
        elif joins_right:
            starts[i] = start
        else:
            starts.insert(i, start)
            ends.insert(i, end)
        return start

    def reserved_after(self, cycle: float) -> float:
        """Cycles of this link's reservations that lie at or after ``cycle``.

        Exact for any ``cycle`` not before the current one: only intervals that ended by
        then have been dropped. ``busy_cycles - reserved_after(now)`` is the busy time so far.
        """
        return sum(end - max(start, cycle) for start, end in zip(self._starts, self._ends, strict=True) if end > cycle)


class _Route:
    """A cached route: per link its reservation lists and head latency, and counts not yet
    added to the links (``pending``: transfers, bytes, transactions, busy cycles)."""

    __slots__ = ("links", "first", "rest", "per_tx", "hops", "pending")

    def __init__(self, links: tuple[Link, ...], per_tx: float, hops: int) -> None:
        self.links = links
        steps = tuple((link, link._starts, link._ends, link.latency_cycles) for link in links)
        self.first = steps[0]
        """The first link (a core's port or the eLink), its reservation starts and ends, its latency."""
        self.rest = steps[1:]
        """The same for each further link, in route order."""
        self.per_tx = per_tx
        self.hops = hops
        self.pending = [0, 0, 0, 0.0]


class _Arrival:
    """A delivery on the simpy queue, with only what ``Environment.step`` reads of an event.

    Scheduled with ``Environment.schedule`` exactly where a ``Timeout`` would be (same
    time, priority and order), at a fraction of its cost; ``callbacks`` is shared, as step
    only reads it.
    """

    __slots__ = ("callbacks", "_ok", "_value")

    def __init__(self, callbacks: list[Callable[[Any], None]], value: Any) -> None:
        self.callbacks = callbacks
        self._ok = True
        self._value = value


@dataclass(slots=True)
class Transfer:
    """One message in flight, as the network timed it.

    Attributes:
        src: sending node (a core coordinate or ``HOST``).
        dst: receiving node.
        n_bytes: payload.
        sent_at: cycle the sender issued it.
        injected_at: cycle its last transaction left the sender's port.
        delivered_at: cycle its last transaction arrived.
        wait_cycles: cycles its head waited for busy links, summed over the route.
        hops: router-to-router links crossed.
        label: what the message carries, for traces.
        link_spans: ``(link index, start, end)`` per link, kept when tracing (empty otherwise).
    """

    src: tuple
    dst: tuple
    n_bytes: int
    sent_at: float
    injected_at: float
    delivered_at: float
    wait_cycles: float
    hops: int
    label: str = ""
    link_spans: list[tuple[int, float, float]] | tuple[()] = field(default_factory=list)

    @property
    def latency_cycles(self) -> float:
        return self.delivered_at - self.sent_at


class Network:
    """All links of a chip and the timing of transfers over them."""

    def __init__(self, env: simpy.Environment, chip: ChipConfig, mesh: Mesh, trace: bool = False) -> None:
        self.env = env
        self.chip = chip
        self.mesh = mesh
        self.trace = trace
        per_tx = {
            "cmesh": chip.cmesh_cycles_per_transaction,
            "inject": chip.cmesh_cycles_per_transaction,
            "eject": chip.cmesh_cycles_per_transaction,
            "rmesh": chip.rmesh_cycles_per_request,
            "rinject": chip.rmesh_cycles_per_request,
            "reject": chip.rmesh_cycles_per_request,
            "elink-out": chip.elink_cycles_per_transaction,
            "elink-in": chip.elink_cycles_per_transaction,
        }
        latency = {"cmesh": chip.hop_latency_cycles, "rmesh": chip.hop_latency_cycles,
                   "elink-out": chip.elink_latency_cycles, "elink-in": chip.elink_latency_cycles}
        self.links = [
            Link(spec.index, spec.name, spec.kind, per_tx[spec.kind], latency.get(spec.kind, 0.0), self)
            for spec in mesh.links
        ]
        self.bytes_injected = 0
        self.bytes_delivered = 0
        self.messages_sent = 0
        self.messages_delivered = 0
        self.transfers: list[Transfer] = []
        self._paths: dict[tuple[tuple, tuple, str], _Route] = {}
        self._uncalled: dict[float, list[int]] = {}  # delivery cycle -> [bytes, messages]
        self._transaction_bytes = chip.transaction_bytes
        self._overhead_cycles = chip.write_overhead_cycles
        # Per-route counts may be added to the links later only if the sums cannot round:
        # every busy time is then a multiple of 1/1024 cycle, exact in a float far past any run.
        self._defer_counts = all(float(v * _BUSY_GRAIN).is_integer() and v < _BUSY_LIMIT for v in per_tx.values())
        self._dirty: list[_Route] = []
        self._on_delivery = [self._deliver]
        self._on_uncalled = [self._count_uncalled]

    def send(
        self,
        src: tuple,
        dst: tuple,
        n_bytes: int,
        on_delivery: Callable[[], None] | None = None,
        network: str = "c",
        label: str = "",
        transactions: int | None = None,
    ) -> Transfer:
        """Time a message from ``src`` to ``dst`` sent now and schedule its delivery.

        Args:
            src: sending core coordinate, or ``HOST``.
            dst: receiving core coordinate, or ``HOST``.
            n_bytes: payload bytes (a zero-byte message still costs one transaction).
            on_delivery: called at the delivery cycle, after the counters are updated.
            network: ``"c"`` for writes and read replies, ``"r"`` for read requests.
            label: what the message carries, kept in traces.
            transactions: override the transaction count (read requests are one each).

        Returns:
            The timed transfer.
        """
        env = self.env
        now = env.now
        route = self._paths.get((src, dst, network))
        if route is None:
            route = self._path(src, dst, network)
        if transactions is None:
            transactions = -(-n_bytes // self._transaction_bytes) if n_bytes > 0 else 1
        duration = transactions * route.per_tx
        head = now + self._overhead_cycles
        if self.trace:
            spans = []
            waited = 0.0
            for link in route.links:
                start = link.reserve(head, duration, now)
                if start > head:
                    waited += self._charge_wait(link, start - head)
                spans.append((link.index, start, start + duration))
                head = start + link.latency_cycles
            injected_at = spans[0][2]
        else:
            spans = _NO_SPANS
            if not self.messages_sent & _PRUNE_MASK:
                self._prune(now)
            # Link.reserve, inlined (without its pruning, done above now and then): this
            # loop runs once per link per message. The first link gives the injection time.
            link, starts, ends, latency = route.first
            if not ends or ends[-1] < head:
                starts.append(head)
                ends.append(head + duration)
                waited = 0.0
            elif ends[-1] == head:
                ends[-1] = head + duration
                waited = 0.0
            else:
                start = link._reserve_among(head, duration)
                waited = self._charge_wait(link, start - head) if start > head else 0.0
                head = start
            injected_at = head + duration
            head += latency
            for link, starts, ends, latency in route.rest:
                if not ends or ends[-1] < head:
                    starts.append(head)
                    ends.append(head + duration)
                elif ends[-1] == head:
                    ends[-1] = head + duration
                else:
                    start = link._reserve_among(head, duration)
                    if start > head:
                        waited += self._charge_wait(link, start - head)
                        head = start
                head += latency
        pending = route.pending
        if not pending[0]:
            self._dirty.append(route)
        pending[0] += 1
        pending[1] += n_bytes
        pending[2] += transactions
        pending[3] += duration
        if not self._defer_counts:
            self._settle()
        delivered_at = head + duration
        transfer = Transfer(src, dst, n_bytes, now, injected_at, delivered_at, waited, route.hops, label, spans)
        self.bytes_injected += n_bytes
        self.messages_sent += 1
        if self.trace:
            self.transfers.append(transfer)
        if on_delivery is None:
            # Deliveries with nothing to call only move the counters: one event per delivery cycle.
            batch = self._uncalled.get(delivered_at)
            if batch is None:
                self._uncalled[delivered_at] = [n_bytes, 1]
                env.schedule(_Arrival(self._on_uncalled, delivered_at), NORMAL, delivered_at - now)  # type: ignore[arg-type]
            else:
                batch[0] += n_bytes
                batch[1] += 1
            return transfer
        env.schedule(_Arrival(self._on_delivery, (n_bytes, on_delivery)), NORMAL, delivered_at - now)  # type: ignore[arg-type]
        return transfer

    @staticmethod
    def _charge_wait(link: Link, wait: float) -> float:
        """Count a transfer's wait for a busy link; return it."""
        link.wait_cycles += wait
        if wait > link.max_wait_cycles:
            link.max_wait_cycles = wait
        return wait

    def _prune(self, now: float) -> None:
        """Drop reservations that ended by ``now`` from links that keep many.

        Reservations in the past cannot change where a transfer sent from now on fits, so
        when they are dropped changes no timing; it only bounds the lists.
        """
        for link in self.links:
            ends = link._ends
            if len(ends) > _PRUNE_AT and ends[0] <= now:
                drop = bisect_right(ends, now)
                del link._starts[:drop], ends[:drop]

    def _deliver(self, event: simpy.Event) -> None:
        n_bytes, on_delivery = event._value
        self.bytes_delivered += n_bytes
        self.messages_delivered += 1
        on_delivery()

    def _settle(self) -> None:
        """Add the counts kept per route to their links."""
        for route in self._dirty:
            transfers, n_bytes, transactions, busy = route.pending
            for link in route.links:
                link._transfers += transfers
                link._bytes += n_bytes
                link._transactions += transactions
                link._busy_cycles += busy
            route.pending = [0, 0, 0, 0.0]
        self._dirty = []

    def _path(self, src: tuple, dst: tuple, network: str) -> _Route:
        """The links of a route, the cycles per transaction of its slowest link and its hops."""
        links = tuple(self.links[i] for i in self.mesh.route(src, dst, network))
        per_tx = max(link.cycles_per_transaction for link in links)
        hops = sum(1 for link in links if link.kind in ("cmesh", "rmesh"))
        route = _Route(links, per_tx, hops)
        self._paths[(src, dst, network)] = route
        return route

    def _count_uncalled(self, event: simpy.Event) -> None:
        n_bytes, messages = self._uncalled.pop(event._value)
        self.bytes_delivered += n_bytes
        self.messages_delivered += messages
