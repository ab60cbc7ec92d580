"""The interpreter: the simpy process that runs an op list on a core, one ``EXECUTE`` lookup per op.

Each handler here runs one op type of ``nnmap.programs.ops``: it reads the core's SRAM,
charges the op's cycles (``epiphany_sim.costs``) through the core's simpy API and stores
the result. Kernels are their own handlers.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import numpy as np
import simpy

from epiphany_sim import costs
from epiphany_sim.core import Core
from epiphany_sim.errors import DeadlockError
from epiphany_sim.mesh import HOST
from nnmap.model import activate_one
from nnmap.programs.ops import (
    EXECUTE,
    Activate,
    Begin,
    Dma,
    Mac,
    Op,
    PollDram,
    ReadDram,
    Send,
    Signal,
    Sum,
    Wait,
    executes,
)

MAX_POLLS = 10_000  # a poll loop this long is waiting for a flag nobody will write


def run_ops(core: Core, ops: Iterable[Op]) -> Generator[simpy.Event, Any, None]:
    """The simpy process that runs ``ops`` on ``core``."""
    table = EXECUTE
    for op in ops:
        handler = table.get(type(op))
        if handler is None:
            raise TypeError(f"{type(op).__name__} is no op: define it as a Kernel or register its handler")
        yield from handler(op, core)


@executes(Mac)
def _mac(op: Mac, core: Core) -> Generator[simpy.Event, Any, None]:
    sram = core.sram
    xs = sram[op.x].data[op.x_offset : op.x_offset + op.n * op.x_stride : op.x_stride]
    value = np.dot(xs, sram[op.w].data[op.w_offset : op.w_offset + op.n])
    yield from core.compute(costs.dot_cycles(core.chip.config, op.n, op.x_stride != 1), op.label)
    sram[op.out].store_one(op.out_index, value)


@executes(Sum)
def _sum(op: Sum, core: Core) -> Generator[simpy.Event, Any, None]:
    sram = core.sram
    out = sram[op.out]
    total = out.data[op.out_index] + np.sum(sram[op.src].data[op.offset : op.offset + op.n], dtype=np.float32)
    yield from core.compute(costs.sum_cycles(core.chip.config, op.n), op.label)
    out.store_one(op.out_index, total)


@executes(Activate)
def _activate(op: Activate, core: Core) -> Generator[simpy.Event, Any, None]:
    sram = core.sram
    z = sram[op.src].data[op.src_index] + sram[op.bias].data[op.bias_index]
    yield from core.compute(costs.activation_cycles(core.chip.config), op.label)
    sram[op.out].store_one(op.out_index, activate_one(op.activation, z))


# The handlers that only hand over to one of the core's processes return it rather than wrap it
# in a generator of their own: one generator less to pass each event through.
@executes(Send)
def _send(op: Send, core: Core) -> Generator[simpy.Event, Any, None]:
    values = core.sram[op.src].data[op.src_offset : op.src_offset + op.n]
    return core.write(op.dst, op.dst_buffer, op.dst_offset, values, op.label)


@executes(Signal)
def _signal(op: Signal, core: Core) -> Generator[simpy.Event, Any, None]:
    return core.write(op.dst, op.buffer, op.offset, np.array([op.value], np.float32), op.label, copy=False)


@executes(Wait)
def _wait(op: Wait, core: Core) -> Generator[simpy.Event, Any, None]:
    return core.wait(op.buffer, op.count, op.label)


@executes(PollDram)
def _poll_dram(op: PollDram, core: Core) -> Generator[simpy.Event, Any, None]:
    for _ in range(MAX_POLLS):
        flags = yield from core.read(HOST, op.buffer, 0, op.n, op.label)
        if np.all(flags >= op.value):
            return
    raise DeadlockError(
        [
            f"{core.name} polled {op.buffer} {MAX_POLLS} times; flags still {flags.tolist()}, "
            f"waiting for all >= {op.value}"
        ]
    )


@executes(ReadDram)
def _read_dram(op: ReadDram, core: Core) -> Generator[simpy.Event, Any, None]:
    values = yield from core.read(HOST, op.src, op.src_offset, op.n, op.label, copy=True)
    core.sram[op.dst].store(op.dst_offset, values)


@executes(Dma)
def _dma(op: Dma, core: Core) -> Generator[simpy.Event, Any, None]:
    done = core.env.event()
    yield from core.dma(op.descriptors, then=done.succeed, label=op.label)
    yield from core.poll(done, op.wait_label)


@executes(Begin)
def _begin(op: Begin, core: Core) -> Generator[simpy.Event, Any, None]:
    core.segment = op.segment
    yield from ()
