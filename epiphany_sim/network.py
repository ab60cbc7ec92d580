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
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Mesh

_PRUNE_AT = 32


class Link:
    """Runtime state of one directed link: its reservations and counters."""

    __slots__ = (
        "index", "name", "kind", "cycles_per_transaction", "latency_cycles",
        "_starts", "_ends", "bytes", "transactions", "transfers", "busy_cycles",
        "wait_cycles", "max_wait_cycles",
    )

    def __init__(self, index: int, name: str, kind: str, cycles_per_transaction: float, latency_cycles: float) -> None:
        self.index = index
        self.name = name
        self.kind = kind
        self.cycles_per_transaction = cycles_per_transaction
        self.latency_cycles = latency_cycles
        self._starts: list[float] = []
        self._ends: list[float] = []
        self.bytes = 0
        self.transactions = 0
        self.transfers = 0
        self.busy_cycles = 0.0
        self.wait_cycles = 0.0
        self.max_wait_cycles = 0.0

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


@dataclass
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
        link_spans: ``(link index, start, end)`` per link, kept when tracing.
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
    link_spans: list[tuple[int, float, float]] = field(default_factory=list)

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
            Link(spec.index, spec.name, spec.kind, per_tx[spec.kind], latency.get(spec.kind, 0.0))
            for spec in mesh.links
        ]
        self.bytes_injected = 0
        self.bytes_delivered = 0
        self.messages_sent = 0
        self.messages_delivered = 0
        self.transfers: list[Transfer] = []
        self._paths: dict[tuple[tuple, tuple, str], tuple[tuple[Link, ...], float, int]] = {}
        self._uncalled: dict[float, list[int]] = {}  # delivery cycle -> [bytes, messages]

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
        now = self.env.now
        path = self._paths.get((src, dst, network))
        if path is None:
            path = self._path(src, dst, network)
        route, per_tx, hops = path
        if transactions is None:
            transactions = self.chip.transactions(n_bytes)
        duration = transactions * per_tx
        head = now + self.chip.write_overhead_cycles
        waited = 0.0
        injected_at = None
        spans = [] if self.trace else None
        for link in route:
            start = link.reserve(head, duration, now)
            if injected_at is None:
                injected_at = start + duration
            link.bytes += n_bytes
            link.transactions += transactions
            link.transfers += 1
            link.busy_cycles += duration
            if start > head:
                wait = start - head
                waited += wait
                link.wait_cycles += wait
                if wait > link.max_wait_cycles:
                    link.max_wait_cycles = wait
            if spans is not None:
                spans.append((link.index, start, start + duration))
            head = start + link.latency_cycles
        delivered_at = head + duration
        transfer = Transfer(src, dst, n_bytes, now, injected_at, delivered_at, waited, hops, label, spans or [])
        self.bytes_injected += n_bytes
        self.messages_sent += 1
        if self.trace:
            self.transfers.append(transfer)
        if on_delivery is None:
            # Deliveries with nothing to call only move the counters: one event per delivery cycle.
            batch = self._uncalled.get(delivered_at)
            if batch is None:
                self._uncalled[delivered_at] = [n_bytes, 1]
                self.env.timeout(delivered_at - now, delivered_at).callbacks.append(self._count_uncalled)
            else:
                batch[0] += n_bytes
                batch[1] += 1
            return transfer

        def deliver(_event: simpy.Event) -> None:
            self.bytes_delivered += n_bytes
            self.messages_delivered += 1
            on_delivery()

        self.env.timeout(delivered_at - now).callbacks.append(deliver)
        return transfer

    def _path(self, src: tuple, dst: tuple, network: str) -> tuple[tuple[Link, ...], float, int]:
        """The links of a route, the cycles per transaction of its slowest link and its hops."""
        route = tuple(self.links[i] for i in self.mesh.route(src, dst, network))
        per_tx = max(link.cycles_per_transaction for link in route)
        hops = sum(1 for link in route if link.kind in ("cmesh", "rmesh"))
        path = (route, per_tx, hops)
        self._paths[(src, dst, network)] = path
        return path

    def _count_uncalled(self, event: simpy.Event) -> None:
        n_bytes, messages = self._uncalled.pop(event.value)
        self.bytes_delivered += n_bytes
        self.messages_delivered += messages
