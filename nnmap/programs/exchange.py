"""The steps by which trainers' cores combine their work: reductions, a parameter server, shared slices, jobs.

Like every kernel, each reads its core's SRAM, charges the cycles of its loop on an
Epiphany core (``epiphany_sim.costs``) and stores or posts what it computed. A core's
parameters are the buffers ``params`` (``w0, b0, w1, ...``) seen as one vector in that
order; the vectors it exchanges (``base``, a running sum, fetched parameters) are single
buffers of the same length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from epiphany_sim import costs
from epiphany_sim.core import Core
from epiphany_sim.mesh import Coord
from nnmap.model import activate_one
from nnmap.programs.ops import Kernel

F32 = np.float32
PUSH, FETCH, DONE = 0.0, 1.0, 2.0
"""The kinds of request a parameter server's client raises (``Request``, ``Serve``)."""


def gather(core: Core, params: tuple[str, ...]) -> np.ndarray:
    """The core's parameters ``params`` as one vector."""
    return np.concatenate([core.sram[name].data for name in params])


def scatter(core: Core, params: tuple[str, ...], vector: np.ndarray) -> None:
    """Store ``vector`` into the core's parameter buffers ``params``."""
    offset = 0
    for name in params:
        buffer = core.sram[name]
        n = len(buffer.data)
        buffer.store(0, vector[offset : offset + n])
        offset += n


@dataclass
class Tally:
    """A count a run's kernels add to (``SliceUpdate``'s overlapping writes)."""

    count: int = 0


@dataclass(frozen=True)
class OwnUpdate(Kernel):
    """The core takes its update, ``params - base``: an axpy over the vector.

    The update stays where it is: neither the parameters nor ``base`` change until the next
    ``TakeParameters``, so ``ReduceChunk`` reads it from them.
    """

    base: str
    label: str = "own update"

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        yield from core.compute(costs.axpy_cycles(core.chip.config, len(core.sram[self.base].data)), self.label)


@dataclass(frozen=True)
class ReduceChunk(Kernel):
    """One chunk of a chain's sum of updates: ``part = (sums +) (params - base)`` over ``offset : offset + n``.

    If a core ``below`` sent its partial sum into ``sums``, the core adds it in; it then
    posts ``part`` into ``sums`` of core ``up`` or, at the top of the chain, stores the new
    parameters ``base + part / m`` (the mean of ``m`` updates) into ``out``.
    """

    params: tuple[str, ...]
    base: str
    offset: int
    n: int
    sums: str
    below: bool
    up: Coord | None
    out: str
    m: int

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        cfg, sram = core.chip.config, core.sram
        chunk = slice(self.offset, self.offset + self.n)
        part = gather(core, self.params)[chunk] - sram[self.base].data[chunk]
        if self.below:
            part = sram[self.sums].data[chunk] + part
            yield from core.compute(costs.axpy_cycles(cfg, self.n), "add update")
        if self.up is not None:
            yield from core.write(self.up, self.sums, self.offset, part, "partial update")
            return
        new = sram[self.base].data[chunk] + part / F32(self.m)
        yield from core.compute(costs.axpy_cycles(cfg, self.n), "average update")
        sram[self.out].store(self.offset, new.astype(F32))


@dataclass(frozen=True)
class TakeParameters(Kernel):
    """Copy the vector ``src`` into the parameters and into ``base`` (two copy loops)."""

    src: str
    params: tuple[str, ...]
    base: str
    label: str

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        new = core.sram[self.src].data.copy()
        yield from core.compute(costs.copy_cycles(core.chip.config, 2 * len(new)), self.label)
        scatter(core, self.params, new)
        core.sram[self.base].store(0, new)


@dataclass(frozen=True)
class Collect(Kernel):
    """``acc += params - base; base = params``: fold the steps since the last fetch or push into ``acc``."""

    params: tuple[str, ...]
    base: str
    acc: str
    label: str = "collect updates"

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        sram = core.sram
        now = gather(core, self.params)
        acc = sram[self.acc].data + (now - sram[self.base].data)
        yield from core.compute(costs.axpy_cycles(core.chip.config, 3 * len(now)), self.label)
        sram[self.acc].store(0, acc.astype(F32))
        sram[self.base].store(0, now)


@dataclass(frozen=True)
class Request(Kernel):
    """Raise flag ``buffer[index]`` of core ``dst`` to ``kind``; as it lands, ``(index, kind)`` joins ``arrivals``.

    The server takes requests in the order they landed (``Serve``).
    """

    dst: Coord
    buffer: str
    index: int
    kind: float
    label: str
    arrivals: deque[tuple[int, float]] = field(compare=False, repr=False)

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        def landed() -> None:
            self.arrivals.append((self.index, self.kind))

        yield from core.write(
            self.dst, self.buffer, self.index, np.array([self.kind], dtype=F32), self.label, then=landed
        )


@dataclass(frozen=True)
class Serve(Kernel):
    """A parameter server takes the oldest request of ``arrivals`` from client ``clients[index]``.

    ``FETCH``: it posts its parameters ``params`` into the client's ``fetched``. ``PUSH``: it
    grants the push (a flag in the client's ``grant``), waits until the client's update has
    landed in ``inbox`` and adds it, divided by ``div``, to its parameters. ``DONE``: nothing.
    """

    clients: tuple[Coord, ...]
    params: str
    fetched: str
    grant: str
    inbox: str
    div: float
    arrivals: deque[tuple[int, float]] = field(compare=False, repr=False)

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        sram = core.sram
        k, kind = self.arrivals.popleft()
        client = self.clients[k]
        if kind == FETCH:
            yield from core.write(client, self.fetched, 0, sram[self.params].data, "parameters")
        elif kind == PUSH:
            inbox = sram[self.inbox]
            landed = inbox.written + len(inbox.data)  # the pushes before this one have all landed
            yield from core.write(client, self.grant, 0, np.array([1.0], dtype=F32), "grant push")
            yield from core.wait(self.inbox, landed, "wait for the update")
            new = sram[self.params].data + inbox.data / F32(self.div)
            yield from core.compute(costs.axpy_cycles(core.chip.config, len(new)), "apply update")
            sram[self.params].store(0, new.astype(F32))


@dataclass(frozen=True)
class SliceUpdate(Kernel):
    """An unlocked read-add-write of slice ``lo : hi`` of parameters shared in ``shared`` of core ``home``.

    The core reads the slice (local loads if it is its own), adds its update
    ``params - base`` over the slice, keeps the sum in ``base`` and writes it back. The
    other cores' writes that land on the slice while this one is in flight are added to
    ``overlaps`` (each may have lost part of its update to this write).
    """

    home: Coord
    lo: int
    hi: int
    shared: str
    params: tuple[str, ...]
    base: str
    overlaps: Tally = field(compare=False, repr=False)

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        cfg, n = core.chip.config, self.hi - self.lo
        shared = core.chip.core(self.home).sram[self.shared]
        mine = shared.written + n  # the count the slice reaches with this write alone
        if self.home == core.coord:
            yield from core.compute(costs.copy_cycles(cfg, n), "load own slice")
            fresh = shared.load()
        else:
            fresh = yield from core.read(self.home, self.shared, 0, n, "read shared parameters")
        base = core.sram[self.base]
        new = fresh + (gather(core, self.params)[self.lo : self.hi] - base.data[self.lo : self.hi])
        yield from core.compute(costs.axpy_cycles(cfg, n), "add own update")
        base.store(self.lo, new)

        def count_overlaps() -> None:
            self.overlaps.count += (shared.written - mine) // n

        yield from core.write(self.home, self.shared, 0, new, "write shared parameters", then=count_overlaps)


@dataclass(frozen=True)
class Neuron(Kernel):
    """A neuron's job in ``job`` (inputs, weights, bias: ``2 n_in + 1`` values) to its activation, posted to ``dst``."""

    job: str
    n_in: int
    activation: str
    dst: tuple
    buffer: str
    offset: int
    label: str
    sent: str

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        cfg, data = core.chip.config, core.sram[self.job].data
        x, w, b = data[: self.n_in], data[self.n_in : -1], data[-1]
        y = np.array([activate_one(self.activation, np.dot(x, w) + b)], dtype=F32)
        yield from core.compute(costs.dot_cycles(cfg, self.n_in) + costs.activation_cycles(cfg), self.label)
        yield from core.write(self.dst, self.buffer, self.offset, y, self.sent)
