"""A core: its SRAM, its compute model and the ways it moves data.

Each method that takes simulated time is a simpy process generator; run it with
``yield from core.compute(...)`` inside the program's process. Every span of time the core
spends is recorded as an ``Activity`` of kind ``compute``, ``wait`` (polling a flag for data
another core writes, or stalled on a remote load) or ``send`` (issuing the stores of a
posted write into its router, or programming its DMA engine). Time in no activity is idle.

Costs a core pays (``ChipConfig``): a remote write of values copied out of its SRAM issues
one transaction per ``copy_cycles_per_transaction`` (a load before each store on the one
load/store unit) and the core stalls until its port has taken the last; a flag already in a
register leaves in a cycle; a wait polls a local flag in a loop of ``poll_cycles``, so the
core goes on one iteration after the data has arrived; a remote load stalls the core for the
request's and the reply's round trip, one transaction at a time; starting a DMA transfer
costs ``dma_setup_cycles``, after which the engine moves the data while the core goes on.
A message a relay rule forwards (``Chip.add_relay``) costs the relaying core one poll
iteration to notice it and a copy per transaction to store it onward
(``Fabric.relay_cycles``): the core pays them after the span of work they interrupted, or
within the wait during which they arrived, as ``send`` spans labelled ``relay``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import simpy

from epiphany_sim.dma import Descriptor, runs
from epiphany_sim.errors import MemoryAccessError, SimError
from epiphany_sim.fabric import LOAD_WORDS
from epiphany_sim.memory import WORD_BYTES, Buffer, LocalSram
from epiphany_sim.mesh import Coord

if TYPE_CHECKING:
    from epiphany_sim.chip import Chip

KINDS = ("compute", "wait", "send")
_new_tuple = tuple.__new__
_FLOAT32 = np.dtype(np.float32)  # numpy's one float32 dtype: an identity test is enough to skip converting
_NO_DEBT = np.float64(0.0)  # a relay debt of nothing, of the type a computed one has


class Activity(NamedTuple):
    """A span of a core's time.

    Attributes:
        kind: ``compute``, ``wait`` or ``send``.
        start: first cycle.
        end: cycle after the last.
        label: what the core did (``"mac y3"``, ``"wait h1"``).
        segment: the part of its work the agent was in, as its caller marked it (``Agent.segment``).
        n_bytes: bytes moved, for sends and reads.
    """

    kind: str
    start: float
    end: float
    label: str
    segment: object
    n_bytes: int = 0


def _float32(values: np.ndarray) -> np.ndarray:
    """``values`` as a 1-D float32 array (the array itself when it already is one)."""
    if type(values) is np.ndarray and values.dtype is _FLOAT32 and values.ndim == 1:
        return values
    return np.asarray(values, dtype=np.float32).reshape(-1)


class Agent:
    """Anything that issues transfers and records its time: a core or the host.

    ``segment`` is the part of its work the agent is in, recorded with each of its activities:
    any value its caller sets (a mapper marks a layer of a sample, say), whose ``str`` labels the
    spans in traces and figures; empty until the caller sets one.
    """

    def __init__(self, chip: Chip, node: tuple, name: str) -> None:
        self.chip = chip
        self.env: simpy.Environment = chip.env
        self.node = node
        self.name = name
        self.segment: object = ""
        self.activities: list[Activity] = []
        self.totals = dict.fromkeys(KINDS, 0.0)
        self.endpoint = chip.fabric.endpoint(node)
        self._relays_paid = 0.0
        self._relay_ticks_paid = 0  # the fabric's count of relay ticks when the debt was last found nil

    @property
    def relay_account(self) -> tuple[float, int]:
        """The relay cycles paid so far, and the fabric's relay ticks when the debt was last nil
        (what compiled code that runs the agent's work takes over and hands back)."""
        return self._relays_paid, self._relay_ticks_paid

    @relay_account.setter
    def relay_account(self, account: tuple[float, int]) -> None:
        self._relays_paid, self._relay_ticks_paid = account

    def _record(self, kind: str, start: float, label: str, n_bytes: int = 0, end: float | None = None) -> None:
        end = self.env.now if end is None else end
        if end > start:
            # The tuple built directly: a NamedTuple's own __new__ is Python and costs as much again.
            self.activities.append(_new_tuple(Activity, (kind, start, end, label, self.segment, n_bytes)))
            self.totals[kind] += end - start

    def _relay_debt(self) -> float:
        """Cycles of relaying (``Fabric.relay_cycles``) not yet on this agent's timeline."""
        fabric = self.chip.fabric
        ticks = fabric.relay_ticks(self.endpoint)
        if ticks == self._relay_ticks_paid:  # nothing relayed since the debt was last nil: it still is
            return _NO_DEBT
        debt = fabric.relay_cycles(self.endpoint) - self._relays_paid
        if debt == 0:
            self._relay_ticks_paid = ticks
        return debt

    def _pay_relays(self, debt: float) -> Generator[simpy.Event, Any, None]:
        """After a span of work, forward what arrived meanwhile (``debt``, the ``_relay_debt`` the
        caller found above nil): the relays' cycles delay the core (it interleaves them with its
        work, as a poll between kernel calls would), shown as a ``send`` span labelled ``relay``.
        What arrives during that span waits for the next."""
        start = self.env.now
        self._relays_paid += debt
        yield simpy.Timeout(self.env, debt)
        self._record("send", start, "relay")

    def _record_wait(self, start: float, label: str, n_bytes: int = 0) -> Generator[simpy.Event, Any, None]:
        """Record a wait that ends now. A core waiting in a poll loop forwards what arrives in the
        same loop: relays up to the wait's length end it as ``relay`` spans, the rest follows."""
        absorbed = min(self._relay_debt(), self.env.now - start)
        self._relays_paid += absorbed
        self._record("wait", start, label, n_bytes, end=self.env.now - absorbed)
        self._record("send", self.env.now - absorbed, "relay")
        debt = self._relay_debt()
        if debt > 0:
            yield from self._pay_relays(debt)

    def compute(self, cycles: float, label: str = "") -> Generator[simpy.Event, Any, None]:
        """Spend ``cycles`` computing."""
        start = self.env.now
        yield simpy.Timeout(self.env, cycles)
        self._record("compute", start, label)
        debt = self._relay_debt()
        if debt > 0:
            yield from self._pay_relays(debt)

    def _target(self, dst: tuple, buffer: str, offset: int, n: int) -> Buffer:
        target = self.chip.memory_at(dst)[buffer]  # fail at the sender if it does not exist
        target.check_range(offset, n)
        return target

    def write(
        self,
        dst: tuple,
        buffer: str,
        offset: int,
        values: np.ndarray,
        label: str = "",
        then: Callable[[], object] | None = None,
        copy: bool = True,
    ) -> Generator[simpy.Event, Any, None]:
        """A posted write of ``values`` into ``buffer`` of core ``dst`` (or ``HOST`` DRAM).

        The writer does not wait for delivery, but it stalls while its stores leave
        through its port into the router (``send`` time). ``copy``: the values are copied out
        of the writer's memory, a load before each store, so its transactions leave one per
        ``copy_cycles_per_transaction`` (the host's, through its library, one per
        ``host_sram_write_cycles_per_transaction``); otherwise they are in registers (a flag)
        and leave one per cycle. A write to itself is a local store and takes no network
        time. ``then`` runs once the values are stored.
        """
        values = _float32(values)
        target = self._target(dst, buffer, offset, len(values))
        if dst == self.node:
            target.store(offset, values)
            if then is not None:
                then()
            return
        start = self.env.now
        sent = simpy.Event(self.env)
        fabric = self.chip.fabric
        fabric.post(
            self.endpoint,
            fabric.endpoint(dst),
            values.nbytes,
            start,
            values,
            target.id,
            offset,
            then=then,
            sent=sent.succeed,
            label=label,
            copy=copy,
        )
        yield sent
        self._record("send", start, label, values.nbytes)
        debt = self._relay_debt()
        if debt > 0:
            yield from self._pay_relays(debt)

    def write_all(
        self, writes: list[tuple[tuple, str, np.ndarray, str]], each: Callable[[int], object] | None = None
    ) -> Generator[simpy.Event, Any, None]:
        """Write ``(dst, buffer, values, label)`` one after another, each at offset 0; end when
        all have arrived. ``each``, if given, is called with a write's index as that write lands."""
        remaining = len(writes)
        arrived = self.env.event()

        def landed(i: int) -> None:
            nonlocal remaining
            if each is not None:
                each(i)
            remaining -= 1
            if not remaining:
                arrived.succeed()

        for i, (dst, buffer, values, label) in enumerate(writes):
            yield from self.write(dst, buffer, 0, values, label, then=partial(landed, i))
        if writes:
            yield arrived

    def dma(
        self, descriptors: Sequence[Descriptor], then: Callable[[], object] | None = None, label: str = ""
    ) -> Generator[simpy.Event, Any, None]:
        """Program the DMA engine with a chain of descriptors and start it.

        The core spends ``dma_setup_cycles`` (``send`` time); the engine then moves the
        elements on one of its channels while the core goes on, a transaction every
        ``dma_cycles_per_transaction``. A descriptor from this node's buffer writes to another
        node; one from another node's buffer into this node's reads, keeping up to
        ``dma_outstanding_reads`` requests in flight. ``then`` runs once every element of every
        descriptor has landed. The values a write moves are the source's when the transfer
        starts; a read takes the source's values as each request arrives.
        """
        if not descriptors:
            raise SimError("a DMA chain needs at least one descriptor")
        # Messages between two nodes in one direction land in the order they were sent: the
        # chain has landed when the last descriptor with each other node, each way, has.
        final = {(d.src if d.dst == self.node else d.dst, d.dst == self.node): k for k, d in enumerate(descriptors)}
        remaining = len(final)

        def landed() -> None:
            nonlocal remaining
            remaining -= 1
            if not remaining and then is not None:
                then()

        start = self.env.now
        yield self.env.timeout(self.chip.config.dma_setup_cycles)
        self._record("send", start, label or "DMA setup")
        notified = set(final.values()) if then is not None else set()
        for k, descriptor in enumerate(descriptors):
            self._start_dma(descriptor, landed if k in notified else None, k < len(descriptors) - 1, label)
        debt = self._relay_debt()
        if debt > 0:
            yield from self._pay_relays(debt)

    def _start_dma(self, d: Descriptor, then: Callable[[], object] | None, chained: bool, label: str) -> None:
        fabric = self.chip.fabric
        source = self.chip.memory_at(d.src)[d.src_buffer]
        target = self.chip.memory_at(d.dst)[d.dst_buffer]
        reads, writes = d.source_indices(), d.target_indices()
        for buffer, index in ((source, reads), (target, writes)):
            if index.min() < 0 or index.max() >= len(buffer.data):
                raise MemoryAccessError(f"DMA descriptor reaches outside buffer {buffer.name!r} of {len(buffer.data)}")
        if d.src == self.node and d.dst != self.node:
            pieces = runs(writes)
            for k, (first, n) in enumerate(pieces):
                last = k == len(pieces) - 1
                values = source.data[reads[first : first + n]]
                fabric.post(
                    self.endpoint,
                    fabric.endpoint(d.dst),
                    4 * n,
                    self.env.now,
                    values,
                    target.id,
                    int(writes[first]),
                    dma=True,
                    then=then if last else None,
                    label=label,
                    chain=chained or not last,
                )
        elif d.dst == self.node and d.src != self.node:
            pieces = runs(reads, writes)
            there = fabric.endpoint(d.src)
            for k, (first, n) in enumerate(pieces):
                last = k == len(pieces) - 1
                fabric.post_read(
                    self.endpoint,
                    there,
                    source.word(int(reads[first])),
                    n,
                    self.env.now,
                    target.id,
                    int(writes[first]),
                    dma=True,
                    then=then if last else None,
                    label=label,
                    chain=chained or not last,
                )
        else:
            raise SimError("a DMA descriptor moves data between this node's memory and another node's")

    def wait(self, buffer: str, count: int, label: str = "") -> Generator[simpy.Event, Any, None]:
        """Poll a flag until ``count`` elements have been written into own ``buffer`` in all."""
        target = self.chip.memory_at(self.node)[buffer]
        start = self.env.now
        if target.written < count:
            event = simpy.Event(self.env)
            target.add_waiter(count, event)
            self.chip.pending_waits[id(event)] = lambda: [
                f"{self.name} waits for {buffer} to reach {count} writes (has {target.written})"
            ]
            yield event
            del self.chip.pending_waits[id(event)]
        yield from self._polled(start, label or f"wait {buffer}")

    def poll(self, event: simpy.Event, label: str = "") -> Generator[simpy.Event, Any, None]:
        """Poll a status until ``event`` has happened (a DMA transfer finished, say)."""
        start = self.env.now
        if not event.processed:
            self.chip.pending_waits[id(event)] = lambda: [
                f"{self.name} polls for {label or 'an event'} that never comes"
            ]
            yield event
            del self.chip.pending_waits[id(event)]
        yield from self._polled(start, label or "poll")

    def _polled(self, start: float, label: str) -> Generator[simpy.Event, Any, None]:
        """End a poll loop that began at ``start`` and whose condition became true now: the
        core notices it in the loop iteration that follows (``poll_cycles``), or in its first
        if it was true from the start."""
        yield simpy.Timeout(self.env, self.chip.config.poll_cycles)
        yield from self._record_wait(start, label)

    def read(
        self, src: tuple, buffer: str, offset: int, n: int, label: str = "", copy: bool = False
    ) -> Generator[simpy.Event, Any, np.ndarray]:
        """Load ``n`` elements of ``buffer`` from core ``src`` (or ``HOST`` DRAM); stall until done.

        Each transaction is a request on the read network and a reply on the write
        network; loads are blocking, so one transaction is in flight at a time. ``copy``: the
        values are stored into the core's SRAM as they come, a copy loop's
        ``copy_cycles_per_transaction`` besides each load's round trip.
        """
        source = self.chip.memory_at(src)[buffer]
        if offset < 0 or n < 0 or offset + n > len(source.data):
            raise MemoryAccessError(f"read of {n} elements at {offset} is outside buffer {buffer!r}")
        fabric = self.chip.fabric
        out = np.empty(n, dtype=np.float32)
        start = self.env.now
        area = fabric.load_area(self.endpoint)
        for first in range(0, n, LOAD_WORDS):
            count = min(LOAD_WORDS, n - first)
            arrived = self.env.event()
            fabric.post_read(
                self.endpoint,
                fabric.endpoint(src),
                source.word(offset + first),
                count,
                self.env.now,
                then=arrived.succeed,
                label=label or f"read {buffer}",
            )
            yield arrived
            out[first : first + count] = fabric.memory[area : area + count]
            if copy:
                yield self.env.timeout(
                    self.chip.config.transactions(4 * count) * self.chip.config.copy_cycles_per_transaction
                )
        yield from self._record_wait(start, label or f"read {buffer}", out.nbytes)
        return out


class Core(Agent):
    """One core of the mesh with its local SRAM."""

    def __init__(self, chip: Chip, coord: Coord) -> None:
        mesh = chip.mesh
        super().__init__(chip, coord, f"core {mesh.index_of(coord)} {coord} id 0x{mesh.core_id(coord):03x}")
        self.coord = coord
        self.index = mesh.index_of(coord)
        cfg = chip.config
        self.sram = LocalSram(
            self.name,
            cfg.sram_bytes,
            cfg.sram_banks,
            cfg.code_bytes,
            chip.fabric,
            self.index * cfg.sram_bytes // WORD_BYTES,
        )
