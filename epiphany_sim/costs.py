"""Cycle costs of compute kernels on one Epiphany core, derived from its instruction set.

The architecture reference describes an in-order core that issues, in one cycle, one
floating-point instruction (a fused multiply-add among them: 2 FLOP) together with one
load or store, whose widest form moves a doubleword (two float32 values) between the
SRAM and the 64 registers. A kernel's inner loop is therefore bound by whichever unit it
keeps busier, counted here per element:

- a dot product with both operands contiguous loads each operand as doublewords (one
  load per element for the two operands together) and issues one FMADD per element, in
  the same cycles: 1 cycle per element;
- with one operand strided (every ``stride``-th value), that operand needs a load per
  element and the other half a load: 1.5 cycles per element;
- ``y += a * x`` loads ``x`` and ``y`` and stores ``y`` (1.5 loads or stores per element)
  while the FPU does one FMADD: 1.5 cycles per element;
- a sum of contiguous values: half a load and one add per element: 1 cycle; a sum of up to
  four values (a partial sum handed on by another core, say) is inlined instead, as a chain
  of dependent adds, each waiting ``fpu_latency_cycles`` for the one before;
- a block matrix multiply keeps a tile of 4 x 4 sums in registers: each step along the
  inner dimension loads 4 values of each operand (4 doubleword loads) and issues 16 FMADDs,
  so the FPU, at one FMADD per cycle, is the bound: 1 cycle per multiply-add, plus per
  tile the loop's branches and loading and storing its 16 sums (16 cycles).

Around the inner work, a loop pays the taken-branch penalty (``branch_cycles``) once per
trip of ``loop_unroll`` elements, and a kernel pays ``call_cycles`` to be called and to
return. A reduction keeps four partial sums in flight to hide the FPU latency and adds
them at the end: two more dependent adds, each ``fpu_latency_cycles``. Every figure is a
field of ``ChipConfig``, so a TOML file can override it.
"""

from __future__ import annotations

import math

from epiphany_sim.config import ChipConfig

CONTIGUOUS_DOT = 1.0  # cycles per element: one FMADD dual-issued with one doubleword load
STRIDED_DOT = 1.5  # a load per strided element and half a load for the contiguous one
AXPY = 1.5  # load x, load y, store y (half a doubleword each), FMADD alongside
SUM = 1.0  # one add per element, half a doubleword load alongside
STORE = 0.5  # one doubleword store per two elements
PARTIAL_SUMS = 4  # a reduction keeps four sums in flight to hide the FPU's latency
REDUCTION_ADDS = 2  # four partial sums to one: two dependent adds
TILE = 4  # a matrix multiply's tile of sums kept in registers, per side
TILE_SUMS = 16  # cycles to load and store a tile's 16 sums (8 doubleword loads and 8 stores)


def loop_cycles(config: ChipConfig, n: int, per_element: float) -> float:
    """Cycles of a kernel looping over ``n`` elements at ``per_element`` cycles each."""
    trips = math.ceil(n / config.loop_unroll)
    return config.call_cycles + n * per_element + trips * config.branch_cycles


def dot_cycles(config: ChipConfig, n: int, strided: bool = False) -> float:
    """A dot product of ``n`` products (one operand strided if ``strided``), reduced to one sum."""
    per_element = STRIDED_DOT if strided else CONTIGUOUS_DOT
    return loop_cycles(config, n, per_element) + REDUCTION_ADDS * config.fpu_latency_cycles


def sum_cycles(config: ChipConfig, n: int) -> float:
    """Adding ``n`` contiguous values into a sum."""
    if n <= PARTIAL_SUMS:
        return n * config.fpu_latency_cycles
    return loop_cycles(config, n, SUM) + REDUCTION_ADDS * config.fpu_latency_cycles


def axpy_cycles(config: ChipConfig, n: int) -> float:
    """``y += a * x`` (or ``y += x``) over ``n`` elements."""
    return loop_cycles(config, n, AXPY)


def copy_cycles(config: ChipConfig, n: int) -> float:
    """Copying ``n`` contiguous elements: a doubleword load and a store per two."""
    return loop_cycles(config, n, 2 * STORE)


def fill_cycles(config: ChipConfig, n: int) -> float:
    """Storing one value into ``n`` elements."""
    return loop_cycles(config, n, STORE)


def elementwise_cycles(config: ChipConfig, n: int, fpu_ops: int) -> float:
    """``fpu_ops`` dependent floating-point operations on each of ``n`` elements (loads and
    stores issue alongside); dependent operations wait for each other's results."""
    return loop_cycles(config, n, fpu_ops) + fpu_ops * config.fpu_latency_cycles


def matmul_cycles(config: ChipConfig, n: int) -> float:
    """``C += A @ B`` for ``n x n`` blocks (``n`` a multiple of the 4 x 4 tile)."""
    tiles = math.ceil(n / TILE) ** 2
    trips = math.ceil(n / config.loop_unroll)
    return config.call_cycles + n**3 + tiles * (trips * config.branch_cycles + TILE_SUMS)


def activation_cycles(config: ChipConfig) -> float:
    """Adding a bias to one sum and applying the activation function."""
    return config.fpu_latency_cycles + config.cycles_per_activation
