"""The kernels of the forward pass beyond the core ops: stores, sparse and split products, flag polls.

Each is a ``Kernel``: a frozen dataclass that runs itself, computing only from its core's
own SRAM and charging the cycles of its loop on an Epiphany core (``epiphany_sim.costs``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import simpy

from epiphany_sim import costs
from epiphany_sim.core import Core
from nnmap.programs.ops import Kernel, Step


@dataclass(frozen=True)
class Fill(Step):
    """``buffer[offset : offset + n] = value``: a store loop."""

    buffer: str
    offset: int
    n: int
    value: float = 0.0
    label: str = ""

    def begin(self, core: Core) -> tuple[float, Callable[[], None]]:
        values = np.full(self.n, self.value, dtype=np.float32)
        return costs.fill_cycles(core.chip.config, self.n), partial(core.sram[self.buffer].store, self.offset, values)


@dataclass(frozen=True)
class SparseMac(Kernel):
    """``out[out_index] = sum_t x[x_offset + rows[w_offset + t]] * w[w_offset + t]`` for ``t < n``.

    ``rows`` is the buffer of input indices stored beside the weights ``w``.
    """

    out: str
    out_index: int
    x: str
    x_offset: int
    w: str
    rows: str
    w_offset: int
    n: int
    label: str = ""

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        sram = core.sram
        rows = sram[self.rows].data[self.w_offset : self.w_offset + self.n].astype(np.int64)
        xs = sram[self.x].data[self.x_offset + rows]
        w = sram[self.w].data[self.w_offset : self.w_offset + self.n]
        value = np.dot(xs, w)
        yield from core.compute(costs.sparse_dot_cycles(core.chip.config, self.n), self.label)
        sram[self.out].store(self.out_index, np.array([value], dtype=np.float32))


@dataclass(frozen=True)
class SplitMac(Kernel):
    """The products of a piece that runs from the end of a cell's input ``x`` into the start of its state ``h``.

    ``out[out_index] = sum_t x[x_offset + t] * w[w_offset + t] + sum_u h[u] * w[w_offset + n_x + u]``
    for ``t < n_x``, ``u < n_h``: a dot product over each part.
    """

    out: str
    out_index: int
    x: str
    x_offset: int
    n_x: int
    h: str
    n_h: int
    w: str
    w_offset: int
    label: str = ""

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        sram, cfg = core.sram, core.chip.config
        w = sram[self.w].data[self.w_offset : self.w_offset + self.n_x + self.n_h]
        xs = sram[self.x].data[self.x_offset : self.x_offset + self.n_x]
        value = np.dot(xs, w[: self.n_x]) + np.dot(sram[self.h].data[: self.n_h], w[self.n_x :])
        yield from core.compute(costs.dot_cycles(cfg, self.n_x) + costs.dot_cycles(cfg, self.n_h), self.label)
        sram[self.out].store(self.out_index, np.array([value], dtype=np.float32))


@dataclass(frozen=True)
class WaitFlags(Kernel):
    """Wait until each of the first ``n`` flags of own ``buffer`` is at least ``done``.

    Each flag is a reader's count of the samples it is done with, written once per sample,
    so the flags cannot all say ``done`` before the buffer has received ``n * done`` writes:
    the core polls for that many, then reads the flags and takes their least, a loop priced
    as a sum over them (``epiphany_sim.costs.sum_cycles``); if one is still short, it polls for
    the next write and reads them again.
    """

    buffer: str
    n: int
    done: int
    label: str = ""

    def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
        flags = core.sram[self.buffer]
        cycles = costs.sum_cycles(core.chip.config, self.n)
        writes = self.n * self.done
        while True:
            yield from core.wait(self.buffer, writes, self.label)
            yield from core.compute(cycles, self.label)
            if np.min(flags.data[: self.n]) >= self.done:  # NaN, never written, fails
                return
            writes = flags.written + 1
