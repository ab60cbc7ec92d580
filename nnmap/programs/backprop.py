"""The instructions back-propagation adds to a core's program (``Kernel``s).

Like the forward ops, each reads only its core's own SRAM, charges the cycles of its loop on
an Epiphany core (``epiphany_sim.costs``) and stores its result with a simulated write;
arithmetic is float32, as on the Epiphany's FPU. The derivative of an activation, written
from its output (``y (1 - y)`` for the sigmoid), is two dependent FPU operations. Each
kernel's cost is a function here (``axpy_cycles``, ...), so a trainer that does the same
arithmetic elsewhere (the per-neuron trainer's host) charges the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from epiphany_sim import costs
from epiphany_sim.config import ChipConfig
from epiphany_sim.core import Core
from nnmap.loss import derivative, output_error
from nnmap.programs.ops import Step

F32 = np.float32


def axpy_cycles(cfg: ChipConfig, n: int) -> float:
    """``Axpy`` of ``n`` elements: ``y += c * x`` (or ``y += x``)."""
    return costs.axpy_cycles(cfg, n)


def output_error_cycles(cfg: ChipConfig, loss: str) -> float:
    """``OutputError`` of one output: ``y - t``, then times ``f'(z) = y (1 - y)`` (two more
    dependent operations) unless the loss is cross-entropy."""
    return costs.elementwise_cycles(cfg, 1, 1 if loss == "cross-entropy" else 3)


def hidden_error_cycles(cfg: ChipConfig, n: int) -> float:
    """``HiddenError`` of ``n`` values: the derivative ``y (1 - y)`` and its product with the error."""
    return costs.elementwise_cycles(cfg, n, 3)


def descend_cycles(cfg: ChipConfig, n: int, momentum: bool) -> float:
    """``Descend`` of ``n`` parameters: ``-lr * delta`` once, then ``w += s * x`` per parameter
    (an axpy); with momentum the velocity is an axpy more."""
    return costs.scalar_cycles(cfg, 1) + costs.axpy_cycles(cfg, n) * (2 if momentum else 1)


@dataclass(frozen=True)
class Copy(Step):
    """``out[out_offset : out_offset + n] = src[src_offset : src_offset + n]``."""

    out: str
    out_offset: int
    src: str
    src_offset: int
    n: int
    label: str = ""

    def begin(self, core: Core) -> tuple[float, Callable[[], None]]:
        values = core.sram[self.src].data[self.src_offset : self.src_offset + self.n].copy()
        return costs.copy_cycles(core.chip.config, self.n), partial(core.sram[self.out].store, self.out_offset, values)


@dataclass(frozen=True)
class Axpy(Step):
    """``out[out_offset + t] += c * x[x_offset + t]`` for ``t < n``; ``c = coeff[coeff_index]``, or 1 with no ``coeff``.

    Back-propagation uses it for a core's share of a hidden layer's error: the products
    ``W[i, j] * delta_j`` of its slice of layer ``l``, added up per input ``i``.
    """

    out: str
    out_offset: int
    x: str
    x_offset: int
    n: int
    coeff: str | None = None
    coeff_index: int = 0
    label: str = ""

    def begin(self, core: Core) -> tuple[float, Callable[[], None]]:
        sram = core.sram
        xs = sram[self.x].data[self.x_offset : self.x_offset + self.n]
        acc = sram[self.out].data[self.out_offset : self.out_offset + self.n]
        if self.coeff is None:
            value = acc + xs
        else:
            value = acc + sram[self.coeff].data[self.coeff_index] * xs
        return axpy_cycles(core.chip.config, self.n), partial(sram[self.out].store, self.out_offset, value.astype(F32))


@dataclass(frozen=True)
class OutputError(Step):
    """``out[out_index] = dE/dz`` of one output from its value ``y[y_index]`` and target ``t[t_index]``."""

    out: str
    out_index: int
    y: str
    y_index: int
    t: str
    t_index: int
    activation: str
    loss: str
    label: str = ""

    def begin(self, core: Core) -> tuple[float, Callable[[], None]]:
        sram = core.sram
        y = sram[self.y].data[self.y_index : self.y_index + 1]
        t = sram[self.t].data[self.t_index : self.t_index + 1]

        def store() -> None:  # from the output and target as they are once the cycles are spent
            sram[self.out].store(self.out_index, output_error(self.loss, self.activation, y, t))

        return output_error_cycles(core.chip.config, self.loss), store


@dataclass(frozen=True)
class HiddenError(Step):
    """``out[start + t] = e[start + t] * f'(h[start + t])`` for ``t < n``: hidden deltas from summed errors."""

    out: str
    start: int
    e: str
    h: str
    n: int
    activation: str
    label: str = ""

    def begin(self, core: Core) -> tuple[float, Callable[[], None]]:
        sram = core.sram
        sl = slice(self.start, self.start + self.n)
        value = sram[self.e].data[sl] * derivative(self.activation, sram[self.h].data[sl])
        return hidden_error_cycles(core.chip.config, self.n), partial(
            sram[self.out].store, self.start, value.astype(F32)
        )


@dataclass(frozen=True)
class Descend(Step):
    """One SGD step of ``n`` parameters in place: ``param[param_offset + t]``, ``t < n``.

    The gradient is ``g_t = delta[delta_index] * a[a_offset + t]`` (a weight: error of its
    output times its input), or ``delta[delta_index]`` with no ``a`` (a bias). Plain SGD
    does ``p -= lr g``; with momentum, ``v = momentum v - lr g; p += v`` on the velocity
    buffer ``velocity`` at the same offsets.
    """

    param: str
    param_offset: int
    a: str | None
    a_offset: int
    delta: str
    delta_index: int
    n: int
    lr: float
    momentum: float = 0.0
    velocity: str | None = None
    label: str = ""

    def begin(self, core: Core) -> tuple[float, Callable[[], None]]:
        sram = core.sram
        sl = slice(self.param_offset, self.param_offset + self.n)
        d = sram[self.delta].data[self.delta_index]
        if self.a is None:
            g = np.full(self.n, d, dtype=F32)
        else:
            g = d * sram[self.a].data[self.a_offset : self.a_offset + self.n]
        step = F32(self.lr) * g

        def store() -> None:  # the parameters (and velocity) as they are once the cycles are spent
            if self.velocity is None:
                sram[self.param].store(self.param_offset, sram[self.param].data[sl] - step)
                return
            v = F32(self.momentum) * sram[self.velocity].data[sl] - step
            sram[self.velocity].store(self.param_offset, v.astype(F32))
            sram[self.param].store(self.param_offset, (sram[self.param].data[sl] + v).astype(F32))

        return descend_cycles(core.chip.config, self.n, self.velocity is not None), store
