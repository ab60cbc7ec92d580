"""Back-propagation over the partitioned scheme: per-core programs for one SGD step.

The forward pass is the partitioned strategy's own (``nnmap.lowering.forward.sample_ops``
on a plan of batch 1). Then, per sample, on the chain of cores:

1. The owner of each output takes its target from its buffer ``t`` (where the feed put
   it), computes the output's error ``delta_j`` and writes it to every other core holding
   products of that output (the cores before it in the chain).
2. For each layer ``l`` from the last down to the second, the error of hidden value ``i``
   is ``e_i = sum_j W[i, j] delta_j``: a sum over the layer's weights, which are split over
   the cores. Each core adds up its own products per ``i``; the partial vectors travel the
   chain the other way, from the last core holding products of layer ``l`` to the first,
   each core adding its own. The first one then holds the whole ``e`` and writes it to its
   neighbours, which relay it along the chain to every core.
3. Meanwhile each core updates its slice of layer ``l``'s weights in place (and the owner
   the biases), with the old weights already used in step 2.
4. With ``e`` complete, each core turns it into the hidden deltas of the outputs it holds
   products of in layer ``l - 1`` (every core has the whole hidden vector from the forward
   broadcast) and goes on with that layer.

Buffers that receive messages are double-buffered by sample parity, as the hidden buffers
of the forward pass are (``nnmap.lowering.delivery``), with cumulative wait counts: a core starts
its next sample only once it holds its errors of this one, and those exist only once the
cores it shares outputs with have finished this sample's forward pass, so no core gets a
sample ahead of the others. (A single-layer network's forward partial sums get one slot:
a core hands off the next sample's partial sum only after it has this sample's error,
which its owner computes after adding this sample's partial sum.)

Inputs and targets reach the cores through a ``nnmap.training.feed`` (by default the host
writes each sample into the chain, which relays it), into two rows by step parity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import simpy

from epiphany_sim.chip import Chip
from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap.buffers import (
    ERROR_SUM,
    T,
    X,
    Y,
    bias,
    hidden,
    hidden_error,
    output_error,
    partial_error,
    total_error,
    velocity,
    weights,
)
from nnmap.errors import TrainingError
from nnmap.lowering.forward import default_chain, lower, sample_ops
from nnmap.model import Layer, Network
from nnmap.plan import Deal, LayerAssignment, Piece, Plan, piece_offsets, runs
from nnmap.programs import Begin, Fill, Op, Relay, Send, Wait
from nnmap.programs.backprop import Axpy, Descend, HiddenError, OutputError
from nnmap.segments import Backward
from nnmap.session import single_core_chip
from nnmap.strategies.base import Strategy
from nnmap.strategies.partitioned import Partitioned
from nnmap.training.feed import SAMPLE_FEEDS, SampleFeed, x_range


def contiguous(li: int, assign: LayerAssignment) -> list[list[Piece]]:
    """Layer ``li``'s pieces per core, each a contiguous run of a dense layer's inputs, or a ``TrainingError``."""
    dense = [[p for p in pieces if isinstance(p, Piece) and p.stride == 1] for pieces in assign.pieces]
    if sum(map(len, dense)) != sum(map(len, assign.pieces)):
        raise TrainingError(f"layer {li}: back-propagation needs dense layers dealt in contiguous product ranges")
    return dense


class BackpropProgram:
    """The programs, buffers and relay rules that train ``net`` on a chain of cores.

    Args:
        config: the chip.
        net: the initial weights.
        n_samples: rows of the dataset in DRAM.
        lr: learning rate.
        momentum: momentum (0: plain SGD).
        loss: ``mse`` or ``cross-entropy``.
        chain: the cores in chain order (default: the snake over the whole mesh); a chain of
            one core is plain SGD on that core.
        feed: how samples reach the cores, a name of ``nnmap.training.feed.SAMPLE_FEEDS``.
        strategy: how the layers' products are dealt to the chain (default the partitioned
            scheme); it must deal dense layers in contiguous product ranges. The hidden values
            are broadcast to every core (``bidir``) whatever its own broadcast.

    The plan is made as if the SRAM had room for anything (capacity changes no plan): the
    trainer checks that what it allocates fits (``nnmap.training.base.check_fits``), these
    buffers together with its own.
    """

    def __init__(
        self,
        config: ChipConfig,
        net: Network,
        n_samples: int,
        lr: float,
        momentum: float = 0.0,
        loss: str = "mse",
        chain: list[Coord] | None = None,
        feed: str = "dram",
        strategy: Strategy | None = None,
    ) -> None:
        SAMPLE_FEEDS.lookup(feed, TrainingError, "feed")
        # batch 2: the x and y buffers get a row per step parity
        roomy = config.replace(sram_bytes=single_core_chip(config).sram_bytes)
        dealer = strategy or Partitioned()
        # The update lock keeps every group within a sample of the others, so the hidden values
        # may go to every core, whatever broadcasts the strategy runs inference with.
        placed, layers = dealer.place(roomy, net, chain or default_chain(config))
        self.plan: Plan = lower(Deal(dealer.name, "bidir", placed, layers), roomy, net, 2)
        self.net = net
        self.n_samples = n_samples
        self.lr = lr
        self.momentum = momentum
        self.loss = loss
        self.pieces = [contiguous(li, assign) for li, assign in enumerate(self.plan.layers)]
        last = self.plan.layers[-1]
        self.feed: SampleFeed = SAMPLE_FEEDS[feed](
            self.chain,
            net.sizes[0],
            net.sizes[-1],
            [x_range([(p.start, p.count) for p in self.pieces[0][k]]) for k in range(len(self.chain))],
            [runs(last.owned(k)) for k in range(len(self.chain))],
        )
        self.relays = self._relays()
        self.dram = {**self.feed.dram(n_samples), **self.plan.dram}
        self._add_buffers()

    @property
    def chain(self) -> list[Coord]:
        return self.plan.chain

    def _participants(self, li: int) -> list[int]:
        return [q for q in range(len(self.chain)) if self.plan.layers[li].pieces[q]]

    def _add_buffers(self) -> None:
        """The backward pass's buffers and initial values added to the plan's, in a new plan."""
        net, plan = self.net, self.plan
        n_layers = len(net.layers)
        named, values = {}, {}
        for k, coord in enumerate(self.chain):
            buffers, setup = named[coord], values[coord] = dict(plan.buffers[coord]), dict(plan.setup[coord])
            buffers.update(self.feed.buffers(k))
            if plan.layers[-1].pieces[k]:
                for parity in (0, 1):
                    buffers[output_error(n_layers, parity)] = net.sizes[-1]
            for li in range(n_layers - 1):
                if plan.layers[li].pieces[k]:
                    buffers[hidden_error(li)] = net.sizes[li + 1]
                for parity in (0, 1):
                    buffers[total_error(li, parity)] = net.sizes[li + 1]
                participants = self._participants(li + 1)
                if k in participants:
                    buffers[ERROR_SUM] = max(buffers.get(ERROR_SUM, 0), net.sizes[li + 1])
                    if k != participants[-1]:
                        for parity in (0, 1):
                            buffers[partial_error(li, parity)] = net.sizes[li + 1]
            if self.momentum:
                for name in plan.parameters[coord]:
                    buffers[velocity(name)] = len(setup[name])
                    setup[velocity(name)] = np.zeros(len(setup[name]), dtype=np.float32)
        self.plan = dataclasses.replace(plan, buffers=named, setup=values)

    def _relays(self) -> dict[Coord, list[Relay]]:
        rules = {coord: list(r) for coord, r in self.plan.relays.items()}
        for coord, more in self.feed.relays().items():
            rules.setdefault(coord, []).extend(more)
        c = self.chain
        for k in range(1, len(c) - 1):
            for li in range(len(self.net.layers) - 1):
                for parity in (0, 1):
                    rules.setdefault(c[k], []).append(Relay(total_error(li, parity), c[k - 1], c[k + 1]))
                    rules.setdefault(c[k], []).append(Relay(total_error(li, parity), c[k + 1], c[k - 1]))
        return rules

    def step_ops(self, k: int, step: int, row: int) -> list[Op]:
        """Ops of chain core ``k`` for SGD step ``step`` (counted from the start) on sample ``row`` alone."""
        return self.epoch_ops(k, step, [row])

    def epoch_ops(self, k: int, first_step: int, rows: list[int]) -> list[Op]:
        """Ops of chain core ``k`` for SGD steps ``first_step, first_step + 1, ...`` on samples ``rows``."""
        ops: list[Op] = []
        for i, row in enumerate(rows):
            step = first_step + i
            following = rows[i + 1] if i + 1 < len(rows) else None
            ops += self.feed.before(k, step, row, i == 0)
            ops += sample_ops(self.plan, k, step, step % 2)
            ops += self._backward(k, step)
            ops += self.feed.after(k, step, following)
        return ops

    def load_dram(self, chip: Chip, x: np.ndarray, t: np.ndarray) -> None:
        """Put the dataset in the DRAM (allocated from ``self.dram``), as the host holds it."""
        self.feed.load_dram(chip, x, t)

    def host_process(
        self, chip: Chip, first_step: int, rows: list[int], x: np.ndarray, t: np.ndarray
    ) -> Generator[simpy.Event, Any, None] | None:
        """The host's part of the same steps (feeding samples), or None if it has none."""
        return self.feed.host(chip, first_step, rows, x, t)

    def _backward(self, k: int, step: int) -> list[Op]:
        net, plan, chain = self.net, self.plan, self.chain
        n_layers = len(net.layers)
        parity, uses = step % 2, step // 2 + 1
        ops: list[Op] = [Begin(Backward())]
        delta = output_error(n_layers, parity)
        ops += output_errors(
            chain,
            plan.layers[-1],
            k,
            delta,
            T,
            parity * net.sizes[-1],
            parity,
            uses,
            net.layers[-1].activation,
            self.loss,
        )
        for li in range(n_layers - 1, -1, -1):
            ops.append(Begin(Backward(li)))
            pieces = self.pieces[li][k]
            if li > 0 and k in self._participants(li):
                share = self._share(k, li, parity)
                ops += reduce_error(
                    chain,
                    self._participants(li),
                    k,
                    pieces,
                    weights(li),
                    li - 1,
                    net.sizes[li],
                    delta,
                    parity,
                    uses,
                    share,
                )
            a, base = (X, parity * net.sizes[0]) if li == 0 else (hidden(li - 1, step), 0)
            ops += descend(pieces, plan.layers[li].owned(k), li, a, base, delta, self.lr, self.momentum)
            if li > 0 and plan.layers[li - 1].pieces[k]:
                size = net.sizes[li]
                total = total_error(li - 1, parity)
                ops.append(Wait(total, uses * size, f"wait e{li - 1}"))
                js = sorted({p.j for p in plan.layers[li - 1].pieces[k]})
                ops += [
                    HiddenError(
                        hidden_error(li - 1),
                        s,
                        total,
                        hidden(li - 1, step),
                        n,
                        net.layers[li - 1].activation,
                        f"delta h{li - 1}[{s}:{s + n}]",
                    )
                    for s, n in runs(js)
                ]
            delta = hidden_error(li - 1)
        return ops

    def _share(self, k: int, li: int, parity: int) -> list[Op]:
        """The first core holding products of layer ``li`` shares the whole error of hidden layer ``li - 1``
        with every core: into its own copy, then to its neighbours, which relay it."""
        chain, size = self.chain, self.net.sizes[li]
        total = total_error(li - 1, parity)
        ops: list[Op] = [Send(chain[k], total, 0, ERROR_SUM, 0, size, f"e{li - 1} complete")]
        return ops + [
            Send(chain[q], total, 0, total, 0, size, f"share e{li - 1}") for q in (k - 1, k + 1) if 0 <= q < len(chain)
        ]

    def read_network(self, chip: Chip) -> Network:
        """The weights and biases as the cores' SRAMs hold them now."""
        return Network(tuple(read_layer(chip, self.plan, li) for li in range(len(self.net.layers))))


def read_layer(chip: Chip, plan: Plan, li: int) -> Layer:
    """Layer ``li`` of ``plan`` (dense, dealt in contiguous ranges) as the cores' SRAMs hold it now."""
    layer, assign = plan.net.layers[li], plan.layers[li]
    w = np.full_like(layer.weights, np.nan)
    b = np.full_like(layer.bias, np.nan)
    for k, coord in enumerate(plan.chain):
        sram = chip.core(coord).sram
        offset = 0
        for p in contiguous(li, assign)[k]:
            w[p.start : p.start + p.count, p.j] = sram[weights(li)].data[offset : offset + p.count]
            offset += p.count
        for t, j in enumerate(assign.owned(k)):
            b[j] = sram[bias(li)].data[t]
    return Layer(w, b, layer.activation)


def output_errors(
    chain: list[Coord],
    assign: LayerAssignment,
    k: int,
    delta: str,
    targets: str,
    t_base: int,
    parity: int,
    uses: int,
    activation: str,
    loss: str,
) -> list[Op]:
    """Step 1 of the module docstring on core ``k``: the errors of the outputs it owns, from its ``y`` row
    ``parity`` and ``targets[t_base + j]``, into ``delta[j]``, and to every core holding products of
    them; then it waits for the errors of every output it holds products of."""
    owned = assign.owned(k)
    ops: list[Op] = []
    for t, j in enumerate(owned):
        ops.append(
            OutputError(delta, j, Y, parity * len(owned) + t, targets, t_base + j, activation, loss, f"error y{j}")
        )
        ops += [Send(chain[q], delta, j, delta, j, 1, f"error y{j}") for q in assign.contributors(j) if q != k]
    needed = {p.j for p in assign.pieces[k]}
    return ops + ([Wait(delta, uses * len(needed), "wait output errors")] if needed else [])


def reduce_error(
    chain: list[Coord],
    participants: list[int],
    k: int,
    pieces: list[Piece],
    w: str,
    below: int,
    size: int,
    delta: str,
    parity: int,
    uses: int,
    complete: list[Op],
    between: Sequence[Op] = (),
) -> list[Op]:
    """Step 2 of the module docstring on core ``k``, one of the ``participants`` of a layer whose weights
    it keeps in ``w``.

    Its error terms of hidden layer ``below`` (``size`` values: ``W[i, j] delta_j`` over its
    pieces, added up per ``i`` with the weights as they are) go into ``ERROR_SUM``; then come the
    ops ``between``; then it adds the partial vector of the participants after it and hands the
    sum to the one before it, or, the first participant, ends with ``complete``.
    """
    offsets = piece_offsets(pieces)
    ops: list[Op] = [Fill(ERROR_SUM, 0, size, 0.0, "clear error sums")]
    ops += [
        Axpy(ERROR_SUM, p.start, w, offsets[t], p.count, delta, p.j, f"error terms of y{p.j}")
        for t, p in enumerate(pieces)
    ]
    ops += between
    pos = participants.index(k)
    incoming = partial_error(below, parity)
    if pos + 1 < len(participants):
        ops += [
            Wait(incoming, uses * size, f"wait partial e{below}"),
            Axpy(ERROR_SUM, 0, incoming, 0, size, None, 0, f"add partial e{below}"),
        ]
    if pos > 0:
        return ops + [Send(chain[participants[pos - 1]], incoming, 0, ERROR_SUM, 0, size, f"partial e{below}")]
    return ops + complete


def descend(
    pieces: list[Piece],
    owned: list[int],
    li: int,
    a: str,
    base: int,
    delta: str,
    lr: float,
    momentum: float = 0.0,
) -> list[Op]:
    """Step 3 of the module docstring on one core: an SGD step of each piece's weights of layer ``li``
    (its inputs at ``a[base + start ...]``, its output's error ``delta[j]``), then of the biases of
    the outputs it ``owned``; with momentum, on velocity buffers beside them."""
    w, b = weights(li), bias(li)
    offsets = piece_offsets(pieces)
    ops: list[Op] = [
        Descend(
            w,
            offsets[t],
            a,
            base + p.start,
            delta,
            p.j,
            p.count,
            lr,
            momentum,
            velocity(w) if momentum else None,
            f"update W[:, {p.j}]",
        )
        for t, p in enumerate(pieces)
    ]
    return ops + [
        Descend(b, t, None, 0, delta, j, 1, lr, momentum, velocity(b) if momentum else None, f"update b{j}")
        for t, j in enumerate(owned)
    ]
