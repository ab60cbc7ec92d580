"""Per-core programs: a small instruction set and the process that runs it on a core.

A strategy turns a network into one op list per core. Ops read and write only the core's
own SRAM buffers; values reach another core only through ``Send`` (a posted write the core
issues) or a relay (the receiving core storing onward what arrived, see
``Relay``). Each op charges the cycles of its kernel on an Epiphany core
(``epiphany_sim.costs``): a dot product for ``Mac``, a sum for ``Sum``, a bias and an
activation for ``Activate``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from epiphany_sim import costs
from epiphany_sim.core import Core
from epiphany_sim.errors import DeadlockError
from epiphany_sim.mesh import HOST, Coord
from nnmap.model import activate

MAX_POLLS = 10_000  # a poll loop this long is waiting for a flag nobody will write


@dataclass(frozen=True)
class Mac:
    """``out[out_index] = sum_t x[x_offset + t * x_stride] * w[w_offset + t]`` for ``t < n``."""

    out: str
    out_index: int
    x: str
    x_offset: int
    w: str
    w_offset: int
    n: int
    x_stride: int = 1
    label: str = ""


@dataclass(frozen=True)
class Sum:
    """``out[out_index] += sum(src[offset : offset + n])``."""

    out: str
    out_index: int
    src: str
    offset: int
    n: int
    label: str = ""


@dataclass(frozen=True)
class Activate:
    """``out[out_index] = act(src[src_index] + bias[bias_index])``."""

    out: str
    out_index: int
    src: str
    src_index: int
    bias: str
    bias_index: int
    activation: str
    label: str = ""


@dataclass(frozen=True)
class Send:
    """Write ``src[src_offset : src_offset + n]`` into ``dst_buffer`` of ``dst`` (a core or ``HOST``)."""

    dst: tuple
    dst_buffer: str
    dst_offset: int
    src: str
    src_offset: int
    n: int
    label: str = ""


@dataclass(frozen=True)
class Signal:
    """Write the constant ``value`` into ``buffer[offset]`` of ``dst`` (a flag)."""

    dst: tuple
    buffer: str
    offset: int
    value: float
    label: str = ""


@dataclass(frozen=True)
class Wait:
    """Wait until ``buffer`` has received ``count`` element writes since the start."""

    buffer: str
    count: int
    label: str = ""


@dataclass(frozen=True)
class PollDram:
    """Re-read ``n`` flags of DRAM ``buffer`` until every one is at least ``value``."""

    buffer: str
    n: int
    value: float
    label: str = ""


@dataclass(frozen=True)
class ReadDram:
    """Read ``n`` elements of DRAM ``src`` from ``src_offset`` into own ``dst`` at ``dst_offset``."""

    src: str
    src_offset: int
    dst: str
    dst_offset: int
    n: int
    label: str = ""


@dataclass(frozen=True)
class Phase:
    """Mark the start of a program phase (a layer of a sample) in the core's record."""

    name: str


class Kernel:
    """An op that runs itself: the hook by which other packages add instructions.

    A subclass is a frozen dataclass whose ``run`` computes only from the core's own SRAM
    and charges its cycles with ``core.compute`` (``Fill`` below; ``nnmap.training.kernels``
    holds the back-propagation ones).
    """

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        raise NotImplementedError


@dataclass(frozen=True)
class Fill(Kernel):
    """``buffer[offset : offset + n] = value``: a store loop."""

    buffer: str
    offset: int
    n: int
    value: float = 0.0
    label: str = ""

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        yield from core.compute(costs.fill_cycles(core.chip.config, self.n), self.label)
        core.sram[self.buffer].store(self.offset, np.full(self.n, self.value, dtype=np.float32))


Op = Mac | Sum | Activate | Send | Signal | Wait | PollDram | ReadDram | Phase | Kernel


@dataclass(frozen=True)
class Relay:
    """A relay rule of a core: what it stores onward when a message lands.

    When a message from core ``src`` lands in ``buffer`` of the core holding this rule,
    the same values are posted to the same place in core ``dst``: the core notices the
    message by a poll and copies it out through its own stores, paying for it between its
    ops (``epiphany_sim.core``).
    """

    buffer: str
    src: Coord
    dst: Coord


def run_ops(core: Core, ops: Iterable[Op]) -> Generator[simpy.Event, Any, None]:
    """The simpy process that runs ``ops`` on ``core``."""
    cfg = core.chip.config
    sram = core.sram
    for op in ops:
        if isinstance(op, Mac):
            x = sram[op.x].data
            xs = x[op.x_offset : op.x_offset + op.n * op.x_stride : op.x_stride]
            w = sram[op.w].data[op.w_offset : op.w_offset + op.n]
            value = np.dot(xs, w)
            yield from core.compute(costs.dot_cycles(cfg, op.n, op.x_stride != 1), op.label)
            sram[op.out].store(op.out_index, np.array([value], dtype=np.float32))
        elif isinstance(op, Sum):
            out = sram[op.out]
            total = out.data[op.out_index] + np.sum(sram[op.src].data[op.offset : op.offset + op.n], dtype=np.float32)
            yield from core.compute(costs.sum_cycles(cfg, op.n), op.label)
            out.store(op.out_index, np.array([total], dtype=np.float32))
        elif isinstance(op, Activate):
            z = sram[op.src].data[op.src_index] + sram[op.bias].data[op.bias_index]
            yield from core.compute(costs.activation_cycles(cfg), op.label)
            sram[op.out].store(op.out_index, activate(op.activation, np.array([z], dtype=np.float32)))
        elif isinstance(op, Send):
            values = sram[op.src].data[op.src_offset : op.src_offset + op.n]
            yield from core.write(op.dst, op.dst_buffer, op.dst_offset, values, op.label)
        elif isinstance(op, Wait):
            yield from core.wait(op.buffer, op.count, op.label)
        elif isinstance(op, PollDram):
            for _ in range(MAX_POLLS):
                flags = yield from core.read(HOST, op.buffer, 0, op.n, op.label)
                if np.all(flags >= op.value):
                    break
            else:
                raise DeadlockError(
                    [
                        f"{core.name} polled {op.buffer} {MAX_POLLS} times; flags still {flags.tolist()}, "
                        f"waiting for all >= {op.value}"
                    ]
                )
        elif isinstance(op, Signal):
            yield from core.write(op.dst, op.buffer, op.offset, np.array([op.value], np.float32), op.label, copy=False)
        elif isinstance(op, ReadDram):
            values = yield from core.read(HOST, op.src, op.src_offset, op.n, op.label, copy=True)
            sram[op.dst].store(op.dst_offset, values)
        elif isinstance(op, Phase):
            core.phase = op.name
        elif isinstance(op, Kernel):
            yield from op.run(core)
        else:  # pragma: no cover - the Op union is closed
            raise TypeError(f"unknown op {op!r}")
