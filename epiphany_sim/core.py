"""A core: its SRAM, its compute model and the ways it moves data.

Each method that takes simulated time is a simpy process generator; run it with
``yield from core.compute(...)`` inside the program's process. Every span of time the core
spends is recorded as an ``Activity`` of kind ``compute``, ``wait`` (for data written by
another core, or stalled on a remote read) or ``send`` (issuing the stores of a posted
write into its router). Time in no activity is idle.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import simpy

from epiphany_sim.memory import Buffer, LocalSram
from epiphany_sim.mesh import HOST, Coord

if TYPE_CHECKING:
    from epiphany_sim.chip import Chip

KINDS = ("compute", "wait", "send")
_FLOAT32 = np.dtype(np.float32)  # numpy's one float32 dtype: an identity test is enough to skip converting


class Activity(NamedTuple):
    """A span of a core's time.

    Attributes:
        kind: ``compute``, ``wait`` or ``send``.
        start: first cycle.
        end: cycle after the last.
        label: what the core did (``"mac y3"``, ``"wait h1"``).
        phase: the program phase set by the caller (for example a layer name).
        n_bytes: bytes moved, for sends and reads.
    """

    kind: str
    start: float
    end: float
    label: str
    phase: str
    n_bytes: int = 0


class _Delivery:
    """Stores a message's values at the destination when the network delivers it."""

    __slots__ = ("target", "offset", "values", "then", "n_bytes")

    def __init__(self, target: Buffer, offset: int, values: np.ndarray, then: Callable[[], None] | None) -> None:
        self.target = target
        self.offset = offset
        self.values = values
        self.then = then
        self.n_bytes = int(values.nbytes)

    def __call__(self) -> None:
        self.target.store(self.offset, self.values)
        if self.then is not None:
            self.then()


class Agent:
    """Anything that issues transfers and records its time: a core or the host."""

    def __init__(self, chip: Chip, node: tuple, name: str) -> None:
        self.chip = chip
        self.env: simpy.Environment = chip.env
        self.node = node
        self.name = name
        self.phase = ""
        self.activities: list[Activity] = []
        self.totals = dict.fromkeys(KINDS, 0.0)
        self._dma_free_at = [0.0] * chip.config.dma_channels
        self._dma_backlog: deque[tuple[tuple, _Delivery, str]] = deque()  # posted while every channel waits

    def _record(self, kind: str, start: float, label: str, n_bytes: int = 0) -> None:
        end = self.env.now
        if end > start:
            self.activities.append(Activity(kind, start, end, label, self.phase, n_bytes))
            self.totals[kind] += end - start

    def compute(self, cycles: float, label: str = "") -> Generator[simpy.Event, Any, None]:
        """Spend ``cycles`` computing."""
        start = self.env.now
        yield self.env.timeout(cycles)
        self._record("compute", start, label)

    def _delivery(
        self, dst: tuple, buffer: str, offset: int, values: np.ndarray, then: Callable[[], None] | None
    ) -> _Delivery:
        target = self.chip.memory_at(dst)[buffer]  # fail at the sender if it does not exist
        if type(values) is np.ndarray and values.dtype is _FLOAT32:
            return _Delivery(target, offset, values.flatten(), then)  # a copy, as below, without the conversion
        return _Delivery(target, offset, np.array(values, dtype=np.float32, copy=True).reshape(-1), then)

    def write(
        self,
        dst: tuple,
        buffer: str,
        offset: int,
        values: np.ndarray,
        label: str = "",
        then: Callable[[], None] | None = None,
    ) -> Generator[simpy.Event, Any, float]:
        """A posted write of ``values`` into ``buffer`` of core ``dst`` (or ``HOST`` DRAM).

        The writer does not wait for delivery, but it stalls while its stores leave
        through its port into the router (``send`` time). A write to itself is a local
        store and takes no network time. ``then`` runs after the values are stored.

        Returns:
            The cycle the values arrive.
        """
        deliver = self._delivery(dst, buffer, offset, values, then)
        if dst == self.node:
            deliver()
            return self.env.now
        start = self.env.now
        transfer = self.chip.network.send(self.node, dst, deliver.n_bytes, deliver, label=label)
        yield self.env.timeout(transfer.injected_at - start)
        self._record("send", start, label, deliver.n_bytes)
        return transfer.delivered_at

    def post(
        self,
        dst: tuple,
        buffer: str,
        offset: int,
        values: np.ndarray,
        label: str = "",
        then: Callable[[], None] | None = None,
    ) -> None:
        """Hand a write to the DMA engine and go on at once (no core time is spent).

        The transfer starts when one of the ``dma_channels`` channels is free; a
        channel is busy until its transfer has left the core's port. ``then`` runs
        after the values are stored at ``dst``.
        """
        self._post(dst, self._delivery(dst, buffer, offset, values, then), label)

    def post_owned(
        self,
        dst: tuple,
        buffer: str,
        offset: int,
        values: np.ndarray,
        label: str = "",
        then: Callable[[], None] | None = None,
    ) -> None:
        """``post`` for a 1-D float32 array that no one changes afterwards: it is sent as is.

        ``post`` copies its values, since the caller may change them before they arrive;
        a relay that forwards the copy it received has nothing to protect, and spares a
        copy per hop.
        """
        try:
            target = self.chip._memory_at[dst].buffers[buffer]
        except (KeyError, TypeError):
            target = self.chip.memory_at(dst)[buffer]  # the error that names what is missing
        self._post(dst, _Delivery(target, offset, values, then), label)

    def _post(self, dst: tuple, deliver: _Delivery, label: str) -> None:
        """Hand a prepared delivery to the DMA engine (see ``post``)."""
        if dst == self.node:
            deliver()
            return
        channels = self._dma_free_at
        if len(channels) == 2:  # the Epiphany's two channels; the first of equals, as min() picks
            channel = 1 if channels[1] < channels[0] else 0
        else:
            channel = min(range(len(channels)), key=channels.__getitem__)
        ready = channels[channel]
        if ready <= self.env.now:
            channels[channel] = self._send(dst, deliver, label)
            return
        if ready == float("inf"):  # every channel waits to start a transfer: queue up behind them
            self._dma_backlog.append((dst, deliver, label))
            return
        channels[channel] = float("inf")  # claimed until the delayed send knows its timing

        def delayed() -> Generator[simpy.Event, Any, None]:
            yield self.env.timeout(ready - self.env.now)
            free_at = self._send(dst, deliver, label)
            while self._dma_backlog:  # then the queued transfers, in the order they were posted
                queued = self._dma_backlog.popleft()
                yield self.env.timeout(free_at - self.env.now)
                free_at = self._send(*queued)
            channels[channel] = free_at

        self.env.process(delayed())

    def _send(self, dst: tuple, deliver: _Delivery, label: str) -> float:
        """Send a DMA transfer now; return when its channel is free again."""
        return self.chip.network.send(self.node, dst, deliver.n_bytes, deliver, label=label).injected_at

    def wait(self, buffer: str, count: int, label: str = "") -> Generator[simpy.Event, Any, None]:
        """Wait until ``count`` elements have been written into own ``buffer`` in all."""
        target = self.chip.memory_at(self.node)[buffer]
        if target.written >= count:
            return
        event = self.env.event()
        target.waiters.append((count, event))
        self.chip.pending_waits[id(event)] = (
            lambda: f"{self.name} waits for {buffer} to reach {count} writes (has {target.written})"
        )
        start = self.env.now
        yield event
        del self.chip.pending_waits[id(event)]
        self._record("wait", start, label or f"wait {buffer}")

    def read(
        self, src: tuple, buffer: str, offset: int, n: int, label: str = ""
    ) -> Generator[simpy.Event, Any, np.ndarray]:
        """Read ``n`` elements of ``buffer`` from core ``src`` (or ``HOST`` DRAM); stall until done.

        Each transaction is a request on the read network and a reply on the write
        network; loads are blocking, so transactions do not overlap.
        """
        source = self.chip.memory_at(src)[buffer]
        out = np.empty(n, dtype=np.float32)
        per_tx = self.chip.config.transaction_bytes // out.itemsize
        start = self.env.now
        latency = self.chip.config.dram_latency_cycles if src == HOST else 0.0
        for first in range(0, n, per_tx):
            count = min(per_tx, n - first)
            arrived = self.env.event()
            self.chip.network.send(self.node, src, 0, arrived.succeed, network="r", label=f"read {buffer}",
                                   transactions=1)
            yield arrived
            if latency:
                yield self.env.timeout(latency)
            chunk = source.load(offset + first, count)
            replied = self.env.event()
            self.chip.network.send(src, self.node, chunk.nbytes, replied.succeed, label=f"reply {buffer}")
            yield replied
            out[first : first + count] = chunk
        self._record("wait", start, label or f"read {buffer}", out.nbytes)
        return out


class Core(Agent):
    """One core of the mesh with its local SRAM."""

    def __init__(self, chip: Chip, coord: Coord) -> None:
        mesh = chip.mesh
        super().__init__(chip, coord, f"core {mesh.index_of(coord)} {coord} id 0x{mesh.core_id(coord):03x}")
        self.coord = coord
        self.index = mesh.index_of(coord)
        cfg = chip.config
        self.sram = LocalSram(self.name, cfg.sram_bytes, cfg.sram_banks, cfg.code_bytes)
