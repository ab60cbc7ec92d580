"""The instruction set of the cores' programs: one frozen dataclass per op, and the table that runs them.

A strategy turns a network into one op list per core, and a trainer turns its steps into
op lists too. Ops read and write only the core's own SRAM buffers; values reach another
core only through ``Send`` (a posted write the core issues) or a relay (the receiving core
storing onward what arrived, see ``Relay``). Each op charges the cycles of its kernel on an
Epiphany core (``epiphany_sim.costs``): a dot product for ``Mac``, a sum for ``Sum``, a
bias and an activation for ``Activate``.

``EXECUTE`` maps each op type to what runs it on a core: the interpreter's handlers for the
ops here (``nnmap.programs.interpreter``), and ``run`` itself for a ``Kernel``, the hook by
which a module adds an instruction of its own (``nnmap.programs.kernels`` and the modules
beside it hold the project's).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from epiphany_sim.core import Core
from epiphany_sim.dma import Descriptor
from epiphany_sim.mesh import Coord
from nnmap.segments import Segment

Handler = Callable[[Any, Core], Generator[simpy.Event, Any, None]]
"""What runs an op on a core: ``handler(op, core)``, a generator of the core's simpy events."""

EXECUTE: dict[type, Handler] = {}
"""Op type to its handler: the interpreter's one dispatch table."""


def executes(op_type: type) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``op_type`` in ``EXECUTE``."""

    def register(handler: Handler) -> Handler:
        EXECUTE[op_type] = handler
        return handler

    return register


class Kernel:
    """An op that runs itself: the hook by which a module adds an instruction.

    A subclass is a frozen dataclass whose ``run`` reads the core's SRAM, charges its cycles
    with ``core.compute`` and stores its result (or posts it, ``core.write``) through the
    core's SimPy API; defining it registers ``run`` as its handler in ``EXECUTE``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        EXECUTE[cls] = cls.run

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        raise NotImplementedError


class Step(Kernel):
    """A kernel that reads the core's SRAM as it starts, computes for its cycles, then stores.

    A subclass defines ``begin``, which does the reading and returns the cycles and the store
    still to do; ``run`` is the three in turn, and the compiled loop
    (``nnmap.programs.engine``) calls ``begin`` and the store at the same times. A subclass has
    a ``label`` field, as every op does.
    """

    label: str

    def begin(self, core: Core) -> tuple[float, Callable[[], None]]:
        raise NotImplementedError

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        cycles, store = self.begin(core)
        yield from core.compute(cycles, self.label)
        store()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Sum:
    """``out[out_index] += sum(src[offset : offset + n])``."""

    out: str
    out_index: int
    src: str
    offset: int
    n: int
    label: str = ""


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``src[src_offset : src_offset + n]`` into ``dst_buffer`` of ``dst`` (a core or ``HOST``)."""

    dst: tuple
    dst_buffer: str
    dst_offset: int
    src: str
    src_offset: int
    n: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class Signal:
    """Write the constant ``value`` into ``buffer[offset]`` of ``dst`` (a flag)."""

    dst: tuple
    buffer: str
    offset: int
    value: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait until ``buffer`` has received ``count`` element writes since the start."""

    buffer: str
    count: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class PollDram:
    """Re-read ``n`` flags of DRAM ``buffer`` until every one is at least ``value``."""

    buffer: str
    n: int
    value: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class ReadDram:
    """Read ``n`` elements of DRAM ``src`` from ``src_offset`` into own ``dst`` at ``dst_offset``."""

    src: str
    src_offset: int
    dst: str
    dst_offset: int
    n: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class Dma:
    """Start the DMA chain ``descriptors`` and poll until every element of it has landed."""

    descriptors: tuple[Descriptor, ...]
    label: str = ""
    wait_label: str = ""


@dataclass(frozen=True, slots=True)
class Begin:
    """Mark the start of a segment of the program (a layer of a sample, say) in the core's record."""

    segment: Segment


Op = Mac | Sum | Activate | Send | Signal | Wait | PollDram | ReadDram | Dma | Begin | Kernel
"""Any op of a core's program."""


@dataclass(frozen=True, slots=True)
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
