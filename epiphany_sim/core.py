"""A core: its SRAM, its compute model and the ways it moves data.

Each method that takes simulated time is a simpy process generator; run it with
``yield from core.compute(...)`` inside the program's process. Every span of time the core
spends is recorded as an ``Activity`` of kind ``compute``, ``wait`` (for data written by
another core, or stalled on a remote read) or ``send`` (issuing the stores of a posted
write into its router). Time in no activity is idle.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import simpy

from epiphany_sim.memory import WORD_BYTES, Buffer, LocalSram
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


def _float32(values: np.ndarray) -> np.ndarray:
    """``values`` as a 1-D float32 array (the array itself when it already is one)."""
    if type(values) is np.ndarray and values.dtype is _FLOAT32 and values.ndim == 1:
        return values
    return np.asarray(values, dtype=np.float32).reshape(-1)


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
        self.endpoint = chip.fabric.endpoint(node)

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
        then: Callable[[], None] | None = None,
    ) -> Generator[simpy.Event, Any, None]:
        """A posted write of ``values`` into ``buffer`` of core ``dst`` (or ``HOST`` DRAM).

        The writer does not wait for delivery, but it stalls while its stores leave
        through its port into the router (``send`` time). A write to itself is a local
        store and takes no network time. ``then`` runs once the values are stored.
        """
        values = _float32(values)
        target = self._target(dst, buffer, offset, len(values))
        if dst == self.node:
            target.store(offset, values)
            if then is not None:
                then()
            return
        start = self.env.now
        sent = self.env.event()
        self.chip.fabric.post(
            self.endpoint,
            self.chip.fabric.endpoint(dst),
            values.nbytes,
            start,
            values,
            target.id,
            offset,
            then=then,
            sent=sent.succeed,
            label=label,
        )
        yield sent
        self._record("send", start, label, values.nbytes)

    def write_all(self, writes: list[tuple[tuple, str, np.ndarray, str]]) -> Generator[simpy.Event, Any, None]:
        """Write ``(dst, buffer, values, label)`` one after another, each at offset 0; end when
        all have arrived."""
        remaining = len(writes)
        arrived = self.env.event()

        def landed() -> None:
            nonlocal remaining
            remaining -= 1
            if not remaining:
                arrived.succeed()

        for dst, buffer, values, label in writes:
            yield from self.write(dst, buffer, 0, values, label, then=landed)
        if writes:
            yield arrived

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

        The transfer starts when one of the ``dma_channels`` channels is free; a channel
        is busy until its transfer has left the core's port. ``then`` runs after the
        values are stored at ``dst``.
        """
        values = _float32(values)
        target = self._target(dst, buffer, offset, len(values))
        if dst == self.node:
            target.store(offset, values)
            if then is not None:
                then()
            return
        self.chip.fabric.post(
            self.endpoint,
            self.chip.fabric.endpoint(dst),
            values.nbytes,
            self.env.now,
            values,
            target.id,
            offset,
            dma=True,
            then=then,
            label=label,
        )

    def wait(self, buffer: str, count: int, label: str = "") -> Generator[simpy.Event, Any, None]:
        """Wait until ``count`` elements have been written into own ``buffer`` in all."""
        target = self.chip.memory_at(self.node)[buffer]
        if target.written >= count:
            return
        event = self.env.event()
        target.add_waiter(count, event)
        self.chip.pending_waits[id(event)] = lambda: (
            f"{self.name} waits for {buffer} to reach {count} writes (has {target.written})"
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
        fabric = self.chip.fabric
        here, there = self.endpoint, fabric.endpoint(src)
        out = np.empty(n, dtype=np.float32)
        per_tx = self.chip.config.transaction_bytes // out.itemsize
        start = self.env.now
        latency = self.chip.config.dram_latency_cycles if src == HOST else 0.0
        for first in range(0, n, per_tx):
            count = min(per_tx, n - first)
            arrived = self.env.event()
            fabric.post(here, there, 0, self.env.now, network="r", then=arrived.succeed, label=f"read {buffer}")
            yield arrived
            if latency:
                yield self.env.timeout(latency)
            chunk = source.load(offset + first, count)
            replied = self.env.event()
            fabric.post(there, here, chunk.nbytes, self.env.now, then=replied.succeed, label=f"reply {buffer}")
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
        self.sram = LocalSram(
            self.name,
            cfg.sram_bytes,
            cfg.sram_banks,
            cfg.code_bytes,
            chip.fabric,
            self.index * cfg.sram_bytes // WORD_BYTES,
        )
