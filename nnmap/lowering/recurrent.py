"""The code generator of stacked recurrent networks: each layer's cells on its own group of cores.

A plan (``nnmap.recurrent.plan``) puts layer ``i`` on a group of consecutive cores of the
chain and deals its cell (``[x; h] @ [W; U]``, ``n_in + H`` inputs, ``H`` outputs) over
them as the partitioned scheme deals a layer. Every core of group ``i`` holds:

- the cell's input: on layer 0, every step's input (``x``, ``T N`` values, loaded by the
  host); above it, the states of the layer below, ``h[i - 1, t]`` (``state(i - 1, t)``),
  two copies by step parity;
- the layer's own states ``h[i, t]`` (``state(i, t)``), two copies by step parity; the zero
  state ``h[i, -1]`` is copy 1, which each core zeroes before step 0;
- its pieces' weights (rows of ``[W; U]``), sums, biases and chained partial sum, as in the
  feed-forward pass (``nnmap.lowering.forward``), and the states it owns, step by step
  (``states(i)``), which it writes to the host's DRAM at the end.

How values travel: ``h[i, t]`` is read by group ``i`` at step ``t + 1`` and by group
``i + 1`` at step ``t``. Its owner keeps each value (a local store) and writes it to its
neighbours on the chain, inside the group and, from the group's last core, to the first
core of the group above; the cores relay it both ways along the group and on along
the group above. A state of step ``t`` lands in the copy of step ``t - 2``, which the group
above may still be reading: its first core counts the steps it is done with (it knows once
its own state of that step is complete) into ``freed(i)`` on the last core of group ``i``,
whose relays pass the count down the group, and every core of group ``i`` waits for it
before step ``t`` (back-pressure).

The cores of a group stay within a step of each other: a step starts by waiting for the
whole state of the step before, and that state is complete only once every core of the
group has done that step's products. So two copies of the states suffice for the group's
own reads, and one chained partial-sum buffer (a core hands on step ``t + 1``'s partial sum
only once ``h[i, t]`` is complete, and its receiver added step ``t``'s before that).

The orders (``nnmap.recurrent.plan.ORDERS``): in the ``wavefront`` each cell waits only for
the values it reads, so it starts as soon as the cells it needs are done. The ``serial``
order adds a token per step: the first core of the last group, once the last layer's state
of step ``t`` is complete, signals the last core of group 0 (``GO``), whose relays pass it
down its group; group 0 starts step ``t + 1`` only then.

A piece of products is a run of one output's inputs in ``[x; h]``; one that starts in ``x``
and ends in ``h`` is computed by ``SplitMac``, a dot product over each part.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from epiphany_sim.mesh import HOST, Coord
from nnmap import buffers
from nnmap.capacity import check_fits, larger_presets
from nnmap.errors import MappingError
from nnmap.lowering.flows import PieceContext, staged_ops
from nnmap.plan import Piece, RecurrentPlan, runs
from nnmap.programs import Activate, Begin, Fill, Mac, Op, Relay, Send, Signal, SplitMac, Wait
from nnmap.recurrent.model import ACTIVATION
from nnmap.segments import Cell, ZeroState

COPIES = 2  # of a layer's states, by step parity


def lower_stack(plan: RecurrentPlan) -> RecurrentPlan:
    """``plan`` (a deal of the stack, ``nnmap.recurrent.plan.deal_stack``) with every core's buffers, initial
    values, programs, readback and relay rules.

    Raises ``MappingError`` if a group's cores cannot hold their share.
    """
    code = _Cells(plan)
    named: dict[Coord, dict[str, int]] = {}
    setup: dict[Coord, dict[str, np.ndarray]] = {}
    ops: dict[Coord, tuple[Op, ...]] = {}
    readback: dict[Coord, tuple[Op, ...]] = {}
    for i, group in enumerate(plan.groups):
        for q in range(len(group)):
            coord = code.core(i, q)
            named[coord], setup[coord] = code.layout(i, q)
            ops[coord] = tuple(code.program(i, q))
            readback[coord] = tuple(code.readback(i, q))
    code.check_fits(named)
    return replace(
        plan,
        buffers=named,
        setup=setup,
        ops=ops,
        readback=readback,
        relays={coord: tuple(rules) for coord, rules in code.relays().items()},
        dram={buffers.OUT: code.depth * code.steps * code.hidden},
    )


class _Cells:
    """The buffers and ops of every core of a plan, group by group."""

    def __init__(self, plan: RecurrentPlan) -> None:
        self.plan = plan
        self.depth, self.steps, self.hidden = plan.stack.depth, plan.steps, plan.stack.hidden
        self.serial = plan.order == "serial" and self.depth > 1

    def core(self, i: int, q: int) -> Coord:
        """The core at position ``q`` of layer ``i``'s group."""
        return self.plan.chain[self.plan.groups[i][q]]

    def _n_in(self, i: int) -> int:
        return self.plan.stack.layers[i].n_in

    def layout(self, i: int, q: int) -> tuple[dict[str, int], dict[str, np.ndarray]]:
        """The buffers of position ``q`` of group ``i`` in the order they are allocated, and their initial values."""
        assign, layer, steps = self.plan.layers[i], self.plan.stack.layers[i], self.steps
        assign.flow.check(assign, q, i)
        named: dict[str, int] = {buffers.X: steps * layer.n_in} if i == 0 else {}
        for copy in range(COPIES):
            if i > 0:
                named[buffers.state(i - 1, copy)] = layer.n_in
            named[buffers.state(i, copy)] = self.hidden
        setup: dict[str, np.ndarray] = {}
        pieces = assign.pieces[q]
        if pieces:
            cell = layer.stacked()
            setup[buffers.weights(i)] = np.concatenate([cell[list(p.inputs), p.j] for p in pieces]).astype(np.float32)
            named[buffers.weights(i)] = len(setup[buffers.weights(i)])
            named[buffers.acc(i)] = len(pieces)
        named.update(assign.flow.receive_buffers(assign, q, i, 0))
        owned = assign.owned(q)
        if owned:
            setup[buffers.bias(i)] = layer.b[owned].astype(np.float32)
            named[buffers.bias(i)] = len(owned)
            named[buffers.states(i)] = steps * len(owned)
        if i + 1 < self.depth:
            named[buffers.freed(i)] = 1
        if self.serial and i == 0:
            named[buffers.GO] = 1
        return named, setup

    def program(self, i: int, q: int) -> list[Op]:
        """Zero the state, then every step of layer ``i`` on position ``q`` of its group."""
        ops: list[Op] = [Begin(ZeroState()), Fill(buffers.state(i, -1), 0, self.hidden, 0.0, f"zero h{i}")]
        return ops + [op for t in range(self.steps) for op in self._cell(i, q, t)]

    def _own_state(self, i: int, s: int) -> Wait:
        """Wait in layer ``i``'s group until ``h[i, s]`` is complete (the zero state counts in copy 1)."""
        return Wait(buffers.state(i, s), ((s + 1) // COPIES + 1) * self.hidden, f"wait h{i}[{s}]")

    def _state_below(self, i: int, t: int) -> Wait:
        """Wait in layer ``i``'s group until its input at step ``t``, ``h[i - 1, t]``, is complete."""
        return Wait(buffers.state(i - 1, t), (t // COPIES + 1) * self._n_in(i), f"wait h{i - 1}[{t}]")

    def _cell(self, i: int, q: int, t: int) -> list[Op]:
        """The ops of position ``q`` of group ``i`` in the cell of layer ``i`` at step ``t``."""
        plan = self.plan
        ops: list[Op] = [Begin(Cell(i, t))]
        if t > 0:
            ops.append(self._own_state(i, t - 1))
        if q == 0 and i > 0 and 0 < t < self.steps - 1:
            below = plan.chain[plan.groups[i][0] - 1]
            ops.append(Signal(below, buffers.freed(i - 1), 0, float(t), f"done with h{i - 1}[{t - 1}]"))
        if i + 1 < self.depth and t >= COPIES:
            ops.append(Wait(buffers.freed(i), t - 1, f"wait until layer {i + 1} is done with h{i}[{t - COPIES}]"))
        if self.serial and i == 0 and t > 0:
            ops.append(Wait(buffers.GO, t, f"wait for L{self.depth - 1}T{t - 1}"))
        if i > 0:
            ops.append(self._state_below(i, t))
        ops += self._products(i, q, t)
        if self.serial and i == self.depth - 1 and q == 0 and t + 1 < self.steps:
            go = Signal(plan.chain[plan.groups[0][-1]], buffers.GO, 0, float(t + 1), f"L{i}T{t} done")
            ops += [self._own_state(i, t), go]
        return ops

    def _products(self, i: int, q: int, t: int) -> list[Op]:
        """The pieces of position ``q`` at step ``t``, grouped by stage (``nnmap.lowering.flows``)."""
        assign = self.plan.layers[i]
        pieces = assign.pieces[q]
        n_in = self._n_in(i)
        x, x_base = (buffers.X, t * n_in) if i == 0 else (buffers.state(i - 1, t), 0)
        h, acc, w = buffers.state(i, t - 1), buffers.acc(i), buffers.weights(i)
        group = [self.core(i, p) for p in range(len(self.plan.groups[i]))]
        at = 0
        contexts = []
        for u, p in enumerate(pieces):
            assert isinstance(p, Piece)  # the partitioned deal of a dense cell: runs of inputs, step 1
            n_x = max(0, min(p.count, n_in - p.start))
            label = f"mac h{i}[{t}][{p.j}]"
            mac: Op
            if n_x == p.count:
                mac = Mac(acc, u, x, x_base + p.start, w, at, p.count, label=label)
            elif n_x == 0:
                mac = Mac(acc, u, h, p.start - n_in, w, at, p.count, label=label)
            else:
                mac = SplitMac(acc, u, x, x_base + p.start, n_x, h, p.count - n_x, w, at, label)
            contexts.append(PieceContext(assign, group, i, q, u, 0, t + 1, mac, partial(self._finish, i, q, t, u)))
            at += p.count
        return staged_ops(contexts)

    def _finish(self, i: int, q: int, t: int, u: int) -> list[Op]:
        """Bias and tanh of piece ``u``'s output, kept for the readback and shared with whoever reads it next."""
        assign = self.plan.layers[i]
        j = assign.pieces[q][u].j
        owned = assign.owned(q)
        at = t * len(owned) + owned.index(j)
        out = buffers.states(i)
        ops: list[Op] = [
            Activate(out, at, buffers.acc(i), u, buffers.bias(i), owned.index(j), ACTIVATION, f"act h{i}[{t}][{j}]")
        ]
        if t + 1 < self.steps or i + 1 < self.depth:
            mine, group = buffers.state(i, t), self.plan.groups[i]
            ops.append(Send(self.core(i, q), mine, j, out, at, 1, f"keep h{i}[{j}]"))
            k = group[q]
            reach = group.stop + (i + 1 < self.depth)  # the first core of the group above reads it too
            ops += [
                Send(self.plan.chain[n], mine, j, out, at, 1, f"share h{i}[{j}]")
                for n in (k - 1, k + 1)
                if group.start <= n < reach
            ]
        return ops

    def readback(self, i: int, q: int) -> list[Op]:
        """Position ``q`` of group ``i`` writes the states it owns into the host's DRAM, step by step."""
        owned = self.plan.layers[i].owned(q)
        return [
            Send(
                HOST,
                buffers.OUT,
                (i * self.steps + t) * self.hidden + start,
                buffers.states(i),
                t * len(owned) + owned.index(start),
                n,
                f"states h{i}[{t}][{start}:{start + n}]",
            )
            for t in range(self.steps)
            for start, n in runs(owned)
        ]

    def relays(self) -> dict[Coord, list[Relay]]:
        """States both ways inside their group and on into the group above; ``freed`` counts down
        each group from its last core; the serial token down group 0 from its last core."""
        plan, chain = self.plan, self.plan.chain
        rules: dict[Coord, list[Relay]] = {}

        def relay(k: int, buffer: str, src: int, dst: int) -> None:
            rules.setdefault(chain[k], []).append(Relay(buffer, chain[src], chain[dst]))

        for i, group in enumerate(plan.groups):
            above = i + 1 < self.depth
            for k in group:
                for copy in range(COPIES):
                    if group.start < k < group.stop - 1:
                        relay(k, buffers.state(i, copy), k + 1, k - 1)
                    if group.start < k < group.stop - (not above):
                        relay(k, buffers.state(i, copy), k - 1, k + 1)
                    if i > 0 and k < group.stop - 1:
                        relay(k, buffers.state(i - 1, copy), k - 1, k + 1)
                if above and k > group.start:
                    relay(k, buffers.freed(i), k + 1, k - 1)
        if self.serial:
            first, last = plan.groups[0], plan.groups[-1]
            for k in range(first.start + 1, first.stop):
                relay(k, buffers.GO, k + 1 if k + 1 < first.stop else last.start, k - 1)
        return rules

    def check_fits(self, named: dict[Coord, dict[str, int]]) -> None:
        """Raise ``MappingError`` naming the fullest core of the first group whose cores cannot hold their
        share of the buffers ``named`` (per core, name to elements)."""
        plan = self.plan
        sizes = [plan.stack.n_in] + [self.hidden] * self.depth
        for i, group in enumerate(plan.groups):
            cores = [plan.chain[k] for k in group]
            n_in = self._n_in(i)
            hint = (
                f"layer {i}'s group, chain positions {group[0]}-{group[-1]}, holds its {n_in + self.hidden}x"
                f"{self.hidden} weights: give a smaller --hidden, fewer --layers or --steps, or a chip with more "
                f"cores or SRAM ({larger_presets(plan.config)})"
            )
            check_fits(plan.config, sizes, {c: named[c] for c in cores}, hint, MappingError, plan.chain)
