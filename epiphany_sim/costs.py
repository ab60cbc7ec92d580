"""Cycle costs of compute kernels on one Epiphany core, derived from its instruction set.

The architecture reference describes an in-order core that issues, in one cycle, one
floating-point instruction (a fused multiply-add among them: 2 FLOP) together with one
integer or load/store instruction, whose widest load moves a doubleword (two float32
values) between the SRAM and the 64 registers. How much of that a kernel uses depends on
how its code was written: ``ChipConfig.kernels`` names the profile every kernel here is
priced by.

``asm``: hand-scheduled assembly, each load paired with a floating-point instruction. A
kernel's inner loop is therefore bound by whichever unit it keeps busier, counted here per
element:

- a dot product with both operands contiguous loads each operand as doublewords (one
  load per element for the two operands together) and issues one FMADD per element, in
  the same cycles: 1 cycle per element;
- with one operand strided (every ``stride``-th value), that operand needs a load per
  element and the other half a load: 1.5 cycles per element;
- a sparse dot product stores each weight beside its input's index: a doubleword load
  brings both, the FPU converts the index (an integer) and the core loads the input it
  names, then the FPU multiplies and adds: two loads and two FPU operations per product,
  2 cycles;
- ``y += a * x`` loads ``x`` and ``y`` and stores ``y`` (1.5 loads or stores per element)
  while the FPU does one FMADD: 1.5 cycles per element;
- a sum of contiguous values: half a load and one add per element: 1 cycle; a sum of up to
  four values (a partial sum handed on by another core, say) is inlined instead, as a chain
  of dependent adds, each waiting ``fpu_latency_cycles`` for the one before (in both
  profiles);
- a block matrix multiply keeps a tile of 4 x 4 sums in registers: each step along the
  inner dimension loads 4 values of each operand (4 doubleword loads) and issues 16 FMADDs,
  so the FPU, at one FMADD per cycle, is the bound: 1 cycle per multiply-add, plus per
  tile the loop's branches and loading and storing its 16 sums (16 cycles).

Around the inner work, a loop pays the taken-branch penalty (``branch_cycles``) once per
trip of ``loop_unroll`` elements, and a kernel pays ``call_cycles`` to be called and to
return. A reduction keeps four partial sums in flight to hide the FPU latency and adds
them at the end: two more dependent adds, each ``fpu_latency_cycles``.

``c``: the loops e-gcc makes of the same kernels written in C. The compiler does not pair
a load with the FPU instruction beside it, loads a float at a time (it cannot prove two
floats share a doubleword) and does not unroll, so every instruction takes its own cycle
and every element pays the loop's overhead. Per element (the ``c_`` fields of
``ChipConfig``, each counted from the reference's one instruction per cycle):

- a dot product: two loads and the FMADD, 3 cycles (``c_dot_cycles_per_element``); a
  strided operand costs the same;
- a sparse dot product: load the weight and the index, shift the index, load the input,
  FMADD: 5 (``c_sparse_dot_cycles_per_element``);
- ``y += a * x``: two loads, the FMADD and a store: 4 (``c_axpy_cycles_per_element``);
- a sum: a load and an add: 2; a copy: a load and a store: 2; a fill: a store: 1;
- an element's dependent FPU operations: its load and store (2) and each operation waiting
  ``fpu_latency_cycles`` for the one before, since the loop does not start the next
  element meanwhile;
- the loop, per trip of ``c_loop_unroll`` elements (1): the counter's subtract and the
  branch (``c_loop_trip_cycles``, 2) and the taken-branch penalty (``branch_cycles``, 3).

A dot product or a sum in C has one accumulator: each FMADD waits for the one before, so
an element costs at least ``fpu_latency_cycles`` (the 8 cycles of a trip cover the 4), and
the result is ready ``fpu_latency_cycles`` after the last. A long dot product therefore
costs 8 cycles per product against the assembly's 1.375 (1 and a 3-cycle branch per 8):
5.8 times as much. The block matrix multiply in C is the one of the threaded-MPI Cannon
example of Ross et al. (2015), a 4 x 4 tile of sums in registers and the inner dimension
unrolled by four; its cost per multiply-add, ``c_matmul_cycles_per_mac`` (counted 1.953,
fitted 2.031), is the one figure of the profile fitted to a measurement: that paper's
9.1 GFLOPS on a 16-core Parallella (``docs/fidelity.md``). Per tile it loads and stores
its 16 sums a word at a time (``c_matmul_tile_cycles``, 32) and pays a trip of the loop
over tiles.

Every figure is a field of ``ChipConfig``, so a TOML file can override it.
"""

from __future__ import annotations

import math

from epiphany_sim.config import ChipConfig

CONTIGUOUS_DOT = 1.0  # cycles per element: one FMADD dual-issued with one doubleword load
STRIDED_DOT = 1.5  # a load per strided element and half a load for the contiguous one
SPARSE_DOT = 2.0  # a doubleword load of weight and index, a load of the input; a convert and an FMADD
AXPY = 1.5  # load x, load y, store y (half a doubleword each), FMADD alongside
SUM = 1.0  # one add per element, half a doubleword load alongside
STORE = 0.5  # one doubleword store per two elements
PARTIAL_SUMS = 4  # a reduction keeps four sums in flight to hide the FPU's latency
REDUCTION_ADDS = 2  # four partial sums to one: two dependent adds
TILE = 4  # a matrix multiply's tile of sums kept in registers, per side
TILE_SUMS = 16  # cycles to load and store a tile's 16 sums (8 doubleword loads and 8 stores)


def _trip_cycles(config: ChipConfig) -> float:
    """Cycles of one trip of a compute loop beyond its elements' work, in the chip's profile."""
    if config.kernels == "c":
        return config.c_loop_trip_cycles + config.branch_cycles
    return config.branch_cycles


def _unroll(config: ChipConfig) -> int:
    return config.c_loop_unroll if config.kernels == "c" else config.loop_unroll


def loop_cycles(config: ChipConfig, n: int, per_element: float, chained: bool = False) -> float:
    """Cycles of a kernel looping over ``n`` elements at ``per_element`` cycles each.

    ``chained``: each element's FPU operation needs the one before it (one accumulator, as
    compiled C keeps), so a trip lasts at least ``fpu_latency_cycles`` per element.
    """
    trip, unroll = _trip_cycles(config), _unroll(config)
    if chained:
        per_element = max(per_element, config.fpu_latency_cycles - trip / unroll)
    return config.call_cycles + n * per_element + math.ceil(n / unroll) * trip


def _reduction_cycles(config: ChipConfig) -> float:
    """Cycles from a reduction loop's last FPU operation to its one sum: four partial sums
    added by two dependent adds (asm), or the one accumulator's last result (c)."""
    adds = 1 if config.kernels == "c" else REDUCTION_ADDS
    return adds * config.fpu_latency_cycles


def dot_cycles(config: ChipConfig, n: int, strided: bool = False) -> float:
    """A dot product of ``n`` products (one operand strided if ``strided``), reduced to one sum."""
    if config.kernels == "c":
        return loop_cycles(config, n, config.c_dot_cycles_per_element, chained=True) + _reduction_cycles(config)
    per_element = STRIDED_DOT if strided else CONTIGUOUS_DOT
    return loop_cycles(config, n, per_element) + _reduction_cycles(config)


def sparse_dot_cycles(config: ChipConfig, n: int) -> float:
    """A dot product over ``n`` connections stored as (weight, input index) pairs."""
    c = config.kernels == "c"
    per_element = config.c_sparse_dot_cycles_per_element if c else SPARSE_DOT
    return loop_cycles(config, n, per_element, chained=c) + _reduction_cycles(config)


def sum_cycles(config: ChipConfig, n: int) -> float:
    """Adding ``n`` contiguous values into a sum."""
    if n <= PARTIAL_SUMS:
        return n * config.fpu_latency_cycles
    c = config.kernels == "c"
    per_element = config.c_sum_cycles_per_element if c else SUM
    return loop_cycles(config, n, per_element, chained=c) + _reduction_cycles(config)


def axpy_cycles(config: ChipConfig, n: int) -> float:
    """``y += a * x`` (or ``y += x``) over ``n`` elements."""
    return loop_cycles(config, n, config.c_axpy_cycles_per_element if config.kernels == "c" else AXPY)


def copy_cycles(config: ChipConfig, n: int) -> float:
    """Copying ``n`` contiguous elements: a doubleword load and a store per two (asm), a word each (c)."""
    return loop_cycles(config, n, config.c_copy_cycles_per_element if config.kernels == "c" else 2 * STORE)


def fill_cycles(config: ChipConfig, n: int) -> float:
    """Storing one value into ``n`` elements."""
    return loop_cycles(config, n, config.c_fill_cycles_per_element if config.kernels == "c" else STORE)


def elementwise_cycles(config: ChipConfig, n: int, fpu_ops: int) -> float:
    """``fpu_ops`` dependent floating-point operations on each of ``n`` elements, loaded and stored.

    Hand-scheduled, the loads and stores issue alongside and the elements overlap, so the
    operations' latency is paid once; compiled, each element waits for its own operations.
    """
    if config.kernels == "c":
        per_element = config.c_elementwise_cycles_per_element + fpu_ops * config.fpu_latency_cycles
        return loop_cycles(config, n, per_element)
    return loop_cycles(config, n, fpu_ops) + fpu_ops * config.fpu_latency_cycles


def scalar_cycles(config: ChipConfig, fpu_ops: int) -> float:
    """``fpu_ops`` dependent floating-point operations on values already in registers (a
    learning rate times an error, say), each waiting for the one before; the same in both profiles."""
    return fpu_ops * config.fpu_latency_cycles


def matmul_cycles(config: ChipConfig, n: int) -> float:
    """``C += A @ B`` for ``n x n`` blocks (``n`` a multiple of the 4 x 4 tile)."""
    tiles = math.ceil(n / TILE) ** 2
    if config.kernels == "c":
        per_tile = config.c_matmul_tile_cycles + _trip_cycles(config)
        return config.call_cycles + n**3 * config.c_matmul_cycles_per_mac + tiles * per_tile
    trips = math.ceil(n / config.loop_unroll)
    return config.call_cycles + n**3 + tiles * (trips * config.branch_cycles + TILE_SUMS)


def activation_cycles(config: ChipConfig) -> float:
    """Adding a bias to one sum and applying the activation function (compiled: with the
    load of the sum and the store of the result around it)."""
    around = config.c_elementwise_cycles_per_element if config.kernels == "c" else 0.0
    return around + config.fpu_latency_cycles + config.cycles_per_activation
