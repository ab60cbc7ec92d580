"""A stacked recurrent network on the chip: its core groups and deals, then its ``nnmap.plan.RecurrentPlan``.

Layer ``i`` sits on core group ``i``: a run of consecutive cores of the snake over the
mesh (``nnmap.lowering.forward.default_chain``), so groups ``i`` and ``i + 1`` touch. Every
layer first gets one core; each further core goes to the layer with the most multiply-adds
per core (the first on ties), which keeps the slowest group as fast as the cores allow.
Inside its group a layer's cell, a dense layer of ``n_in + H`` inputs (``[x; h]``) and
``H`` outputs, is dealt as the partitioned scheme deals a layer
(``nnmap.strategies.partitioned``): contiguous product ranges, partial sums handed along the
group's chain (``deal_stack``); ``nnmap.lowering.recurrent`` writes the programs.

The cell of layer ``i`` at step ``t`` (``LiTt``) needs the cells ``L(i-1)Tt`` (its input)
and ``LiT(t-1)`` (its state). The two orders run the same cells:

- ``serial``: one cell at a time, ``L0T0, L1T0, ..., L(L-1)T0, L0T1, ...``;
- ``wavefront``: a cell starts as soon as the two it needs are done, so the cells of one
  diagonal band ``i + t = d`` run together, ``LiTt`` beside ``L(i+1)T(t-1)``: the loop
  skewing of L. Lamport, "The parallel execution of DO loops" (CACM 17(2), 1974), and M. E.
  Wolf and M. S. Lam, "A loop transformation theory and an algorithm to maximize
  parallelism" (IEEE TPDS 2(4), 1991). ``L + T - 1`` bands instead of ``L T`` cells: the
  ideal speedup is ``L T / (L + T - 1)``.
"""

from __future__ import annotations

from epiphany_sim.config import ChipConfig
from nnmap.errors import MappingError
from nnmap.lowering.forward import default_chain
from nnmap.plan import ELEMENT_BYTES, RecurrentPlan
from nnmap.recurrent.model import RecurrentStack
from nnmap.strategies.partitioned import Partitioned
from nnmap.strategies.pipeline import group_sizes, groups

ORDERS = ("serial", "wavefront")


def ideal_speedup(depth: int, steps: int) -> float:
    """``L T / (L + T - 1)``: the cells over the bands, the wavefront's speedup if every cell took as long."""
    return depth * steps / (depth + steps - 1)


def core_groups(n_cores: int, work: list[int]) -> list[range]:
    """Consecutive chain positions per layer, for layers of ``work`` multiply-adds each, sized
    as the layer pipeline sizes its groups (``nnmap.strategies.pipeline.group_sizes``): every
    layer gets a core, each further core goes to the layer with the most multiply-adds per core."""
    if len(work) > n_cores:
        raise MappingError(
            f"{len(work)} layers need a group of cores each but the chip has {n_cores} cores: "
            "give fewer --layers or a chip with more cores"
        )
    return groups(group_sizes(work, n_cores))


def check_capacity(config: ChipConfig, depth: int, hidden: int, n_in: int, steps: int) -> None:
    """Raise ``MappingError`` if, from the shapes alone, no grouping of the cores can hold the stack.

    Tested before the weights, the inputs or any program exist: every layer needs a core;
    every weight and bias is held somewhere, so all of them fit the chip's data SRAM
    together; and a core of layer 0's group holds the whole input sequence.
    """
    core_groups(config.usable_cores, [1] * depth)
    parameters = sum(((n_in if i == 0 else hidden) + hidden + 1) * hidden for i in range(depth))
    total = config.usable_cores * config.data_bytes
    if parameters * ELEMENT_BYTES > total:
        raise MappingError(
            f"{depth} layers of {hidden} units take {parameters * ELEMENT_BYTES} bytes of weights and biases but "
            f"the chip's {config.usable_cores} cores hold {total} bytes of data in all: "
            "use fewer or smaller layers"
        )
    inputs = steps * n_in * ELEMENT_BYTES
    if inputs > config.data_bytes:
        raise MappingError(
            f"{steps} steps of {n_in} inputs take {inputs} bytes, and every core of layer 0's group holds them "
            f"all, but a core has {config.data_bytes} bytes of data: use fewer --steps or --inputs-size"
        )


def deal_stack(config: ChipConfig, stack: RecurrentStack, steps: int, order: str) -> RecurrentPlan:
    """Group the cores and deal every layer's cell over its group: a plan without buffers or programs yet
    (``nnmap.lowering.recurrent.lower_stack`` writes them).

    Raises ``MappingError`` for an unknown order or more layers than cores.
    """
    if order not in ORDERS:
        raise MappingError(f"unknown order {order!r}: use one of {', '.join(ORDERS)}")
    if steps < 1:
        raise MappingError(f"a sequence needs at least one step, got {steps}")
    chain = default_chain(config)
    cells = [(layer.n_in + layer.hidden) * layer.hidden for layer in stack.layers]
    groups = core_groups(len(chain), cells)
    deal = Partitioned()
    layers = [
        deal.assign(layer.n_in + layer.hidden, layer.hidden, len(group))
        for layer, group in zip(stack.layers, groups, strict=True)
    ]
    return RecurrentPlan(config, stack, steps, order, chain, groups, layers)
