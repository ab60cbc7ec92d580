"""The ``dni`` trainer: decoupled layers, each updating its weights from a synthetic gradient.

After M. Jaderberg et al., "Decoupled Neural Interfaces using Synthetic Gradients" (ICML 2017,
arXiv:1608.05343). Back-propagation locks every layer's update until the error of the
sample has come back from every layer above; here a small linear model beside each hidden
layer predicts that error, the layer updates at once, and the model learns from the true
error when it arrives.

Each layer has a group of cores of its own, consecutive along the chain as the layer
pipeline lays them out (``nnmap.strategies.pipeline``; the groups are sized by the cycles of
one step of each, below), the layer dealt by the partitioned scheme inside its group. Group
``l`` runs, for step ``s`` (sample ``s`` of the run):

1. Inputs: group 0 gets the sample from the host (``nnmap.training.feed.HostFeed``); group
   ``l > 0`` gets hidden vector ``h_{l-1}`` of sample ``s`` and its targets from the last core
   of group ``l - 1``, into one of two rows by step parity, relayed along the group.
2. Forward: layer ``l`` over the group, every core getting all of ``h_l``
   (``nnmap.lowering.forward``, ``bidir`` inside the group). A hidden layer's group then
   runs its synthetic-gradient model, ``g^_l = h_l A_l + c_l`` (``n_l x n_l`` weights and
   ``n_l`` biases, dealt over the same group as a second layer, starting at zero as the
   paper's models do), whose outputs' owners send each ``g^_j`` to the cores holding
   products of output ``j`` of layer ``l``; the group's last core passes ``h_l`` and the
   targets on to group ``l + 1``. The output layer's group computes its errors from the
   targets instead (back-propagation's step 1, ``nnmap.training.backprop.output_errors``).
3. Deltas: ``d_l = g^_l f'(h_l)`` on the cores holding products of each output.
4. Backward, for ``l > 0``: the error of the layer below, ``e = W_l d_l`` with the weights
   as they are, is summed along the group from its last core to its first
   (``nnmap.training.backprop.reduce_error``), which writes it into the last core of group
   ``l - 1``; the cores there relay it along that group.
5. Update: each core's slice of ``W_l`` and ``b_l`` takes its SGD step at once (before it
   hands its partial error on, so an error that arrives says its group is done with the
   sample's inputs).
6. The model's step, for a hidden layer, at the end of step ``s``: the true error of sample
   ``s - 1`` has come back from group ``l + 1`` (its step 4); the model takes one SGD step on
   ``1/2 |g^_l - e|^2`` for that sample, at the learning rate ``sg_lr``: its outputs' owners
   compute ``g^_j - e_j`` (from the ``g^`` they kept) and send it to the cores holding
   products of output ``j`` of the model, which update ``A_l`` with the hidden vector of
   sample ``s - 1`` (each copies ``h_l`` aside after its step for this) and ``c_l``.

So group ``l`` works on sample ``s`` while group ``l + 1`` works on sample ``s - 1``: forward and
backward work of different samples overlap on different groups, and no group waits for
the layers above before it updates. The one wait between neighbours is step 6, for the
error of the sample before; it also keeps group ``l`` from writing sample ``s`` into the
rows of group ``l + 1`` before group ``l + 1`` is done with sample ``s - 2``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap import buffers
from nnmap.errors import TrainingError
from nnmap.lowering.forward import default_chain, sample_ops
from nnmap.mapping import plan_for
from nnmap.model import Layer, Network
from nnmap.plan import Plan, runs
from nnmap.programs import Begin, Op, Relay, Send, Wait
from nnmap.programs.backprop import Copy, HiddenError, axpy_cycles, descend_cycles
from nnmap.segments import Forward
from nnmap.session import Meter, Session, single_core_chip
from nnmap.strategies.partitioned import Partitioned
from nnmap.strategies.pipeline import group_sizes, groups
from nnmap.training.backprop import contiguous, descend, output_errors, read_layer, reduce_error
from nnmap.training.base import TRAINERS, Hyperparameters, Trainer, bigger_chip_hint, check_fits
from nnmap.training.datasets import Dataset
from nnmap.training.feed import HostFeed, x_range
from nnmap.work import output_cycles


def model_for(layer: Layer) -> Layer:
    """The synthetic-gradient model of a hidden ``layer``: linear from its outputs to their errors, at zero."""
    n = layer.n_out
    return Layer(np.zeros((n, n), np.float32), np.zeros(n, np.float32), "identity")


def step_cycles(config: ChipConfig, net: Network, li: int, momentum: bool) -> float:
    """Cycles one core would spend on one step of layer ``li``'s group: forward, update, the error
    for the layer below and, for a hidden layer, the model's forward pass and update."""
    layer = net.layers[li]
    cycles = float(output_cycles(config, layer).sum()) + layer.n_out * descend_cycles(config, layer.n_in, momentum)
    if li > 0:
        cycles += layer.n_out * axpy_cycles(config, layer.n_in)
    if li < len(net.layers) - 1:
        model = model_for(layer)
        cycles += float(output_cycles(config, model).sum()) + model.n_out * descend_cycles(config, model.n_in, False)
    return cycles


class Group:
    """One layer's group of cores: the deal of its layer (and model) over them.

    Args:
        plan: the layer, and for a hidden layer its model as a second layer, dealt over the
            group's cores (batch 2: rows by step parity).
        li: the layer's index in the network.
        last: whether it is the output layer.
    """

    def __init__(self, plan: Plan, li: int, last: bool) -> None:
        self.plan = plan
        self.li = li
        self.last = last
        self.chain = plan.chain
        self.layer = plan.layers[0]
        self.pieces = contiguous(0, self.layer)
        self.model_pieces = contiguous(1, plan.layers[1]) if not last else []
        self.n_in, self.n_out = plan.net.sizes[0], plan.net.sizes[1]

    def needed(self, q: int) -> list[int]:
        """The outputs of the layer core ``q`` holds products of."""
        return sorted({p.j for p in self.pieces[q]})


@TRAINERS.add
class Dni(Trainer):
    """Decoupled layers with synthetic gradients, one group of cores per layer."""

    name = "dni"
    options = ("sg_lr",)

    def __init__(self, config: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        super().__init__(config, net, data, hp)
        n_layers = len(net.layers)
        if n_layers < 2:
            raise TrainingError(f"dni needs a hidden layer: network {net.sizes} has none (give --layers)")
        chain = default_chain(config)
        if len(chain) < n_layers:
            raise TrainingError(f"dni needs a core per layer: {n_layers} layers, {config.name} has {len(chain)} cores")
        work = [step_cycles(config, net, li, hp.momentum > 0) for li in range(n_layers)]
        roomy = config.replace(sram_bytes=single_core_chip(config).sram_bytes)
        self.groups: list[Group] = []
        for li, span in enumerate(groups(group_sizes(work, len(chain)))):
            layer, last = net.layers[li], li == n_layers - 1
            sub = Network((layer,) if last else (layer, model_for(layer)))
            plan = plan_for(Partitioned(), roomy, sub, 2, "bidir", chain=[chain[k] for k in span])
            self.groups.append(Group(plan, li, last))
        first = self.groups[0]
        self.feed = HostFeed(
            first.chain,
            net.sizes[0],
            net.sizes[-1],
            [x_range([(p.start, p.count) for p in pieces]) for pieces in first.pieces],
            [[] for _ in first.chain[:-1]] + [[(0, net.sizes[-1])]],  # the last core passes the targets on
        )
        self.layout = self._layout()
        check_fits(self.config, net, self.layout, bigger_chip_hint(self.config))

    def _layout(self) -> dict[Coord, dict[str, int]]:
        n_out = self.net.sizes[-1]
        layout: dict[Coord, dict[str, int]] = {}
        for g, group in enumerate(self.groups):
            for q, coord in enumerate(group.chain):
                named = dict(group.plan.buffers[coord])
                named.update(self.feed.buffers(q) if g == 0 else {buffers.X: 2 * group.n_in, buffers.T: 2 * n_out})
                for parity in (0, 1):
                    named[buffers.layer_delta(parity)] = group.n_out
                    if g > 0:
                        named[buffers.partial_error(g - 1, parity)] = group.n_in
                    if not group.last:
                        named[buffers.synthetic_gradient(parity)] = group.n_out
                        named[buffers.synthetic_error(parity)] = group.n_out
                        named[buffers.total_error(g, parity)] = group.n_out
                if g > 0:
                    named[buffers.ERROR_SUM] = group.n_in
                if not group.last:
                    named[buffers.KEPT] = group.n_out
                for name in self._with_momentum(named):
                    named[buffers.velocity(name)] = named[name]
                layout[coord] = named
        return layout

    def _with_momentum(self, held: Iterable[str]) -> list[str]:
        """Of the buffers a core ``held``, those of a layer's weights and biases that keep a velocity
        (with momentum; the models learn without)."""
        return [name for name in (buffers.weights(0), buffers.bias(0)) if name in held] if self.hp.momentum else []

    def _relays(self) -> dict[Coord, list[Relay]]:
        rules: dict[Coord, list[Relay]] = {}
        for coord, more in [*self.feed.relays().items(), *(r for g in self.groups for r in g.plan.relays.items())]:
            rules.setdefault(coord, []).extend(more)
        for before, group in zip(self.groups, self.groups[1:], strict=False):
            c = group.chain
            for q in range(len(c) - 1):  # the inputs and targets, forward along the group
                rules.setdefault(c[q], []).extend(
                    Relay(name, c[q - 1] if q else before.chain[-1], c[q + 1]) for name in (buffers.X, buffers.T)
                )
            b = before.chain
            for q in range(1, len(b)):  # the true error of the group before's outputs, back along it
                src = b[q + 1] if q + 1 < len(b) else c[0]
                rules.setdefault(b[q], []).extend(
                    Relay(buffers.total_error(before.li, parity), src, b[q - 1]) for parity in (0, 1)
                )
        return rules

    def start(self, load: str | None = None) -> Meter:
        self.session = Session(self.config, self.layout, self.feed.dram(self.data.n_samples), self._relays(), load=load)
        self.feed.load_dram(self.session.chip, self.data.x, self.data.y)
        setup = {}
        for group in self.groups:
            for coord in group.chain:
                values = dict(group.plan.setup[coord])
                for name in self._with_momentum(values):
                    values[buffers.velocity(name)] = np.zeros(len(values[name]), dtype=np.float32)
                setup[coord] = values
        self.session.process(self.session.load(setup))
        self.session.run()
        self.steps = 0
        return self.session.meter()

    def run_epoch(self, epoch: int) -> Meter:
        rows = list(range(self.data.n_samples))
        programs = {
            coord: [op for i, row in enumerate(rows) for op in self._step(g, q, self.steps + i, row, i, rows)]
            for g, group in enumerate(self.groups)
            for q, coord in enumerate(group.chain)
        }
        self.session.start(programs)
        self.session.process(self.feed.host(self.session.chip, self.steps, rows, self.data.x, self.data.y))
        self.steps += len(rows)
        self.session.run()
        return self.session.meter()

    def network(self) -> Network:
        return Network(tuple(read_layer(self.session.chip, group.plan, 0) for group in self.groups))

    def models(self) -> list[Layer]:
        """The synthetic-gradient models as the cores hold them now: ``A_l`` as weights, ``c_l`` as biases."""
        return [read_layer(self.session.chip, group.plan, 1) for group in self.groups if not group.last]

    # The ops of one step ----------------------------------------------------------------

    def _step(self, g: int, q: int, step: int, row: int, i: int, rows: Sequence[int]) -> list[Op]:
        """Core ``q`` of group ``g``, step ``step`` on dataset row ``row``, the ``i``-th of an epoch's ``rows``."""
        group = self.groups[g]
        following = rows[i + 1] if i + 1 < len(rows) else None
        ops = self.feed.before(q, step, row, i == 0) if g == 0 else self._arrivals(group, q, step)
        ops += [
            Begin(Forward(group.li, step)) if isinstance(op, Begin) else op
            for op in sample_ops(group.plan, q, step, step % 2)
        ]
        if not group.last and q == len(group.chain) - 1:
            ops += self._pass_on(g, step)
        ops += self._deltas(group, q, step)
        ops += self._backward(g, q, step)
        if not group.last:
            ops += self._model_step(group, q, step)
        return ops + (self.feed.after(q, step, following) if g == 0 else [])

    def _arrivals(self, group: Group, q: int, step: int) -> list[Op]:
        """Group ``l > 0``: wait for the inputs, and the targets where they are read or passed on."""
        ops: list[Op] = [Wait(buffers.X, (step + 1) * group.n_in, f"wait h{group.li - 1}")]
        reads_targets = group.layer.owned(q) if group.last else q == len(group.chain) - 1
        if reads_targets:
            ops.append(Wait(buffers.T, (step + 1) * self.net.sizes[-1], "wait targets"))
        return ops

    def _pass_on(self, g: int, step: int) -> list[Op]:
        """The last core of hidden group ``g`` passes the hidden vector and the targets to the next group."""
        parity, n_out, nxt = step % 2, self.net.sizes[-1], self.groups[g + 1].chain[0]
        n = self.groups[g].n_out
        return [
            Send(nxt, buffers.X, parity * n, buffers.hidden(0, step), 0, n, f"pass h{g} on"),
            Send(nxt, buffers.T, parity * n_out, buffers.T, parity * n_out, n_out, "pass targets on"),
        ]

    def _deltas(self, group: Group, q: int, step: int) -> list[Op]:
        """Steps 2 and 3: the deltas of the outputs core ``q`` holds products of."""
        parity, uses = step % 2, step // 2 + 1
        delta = buffers.layer_delta(parity)
        if group.last:
            t_base = parity * self.net.sizes[-1]
            act = group.plan.net.layers[0].activation
            return output_errors(group.chain, group.layer, q, delta, buffers.T, t_base, parity, uses, act, self.hp.loss)
        model = group.plan.layers[1]
        owned = model.owned(q)
        sg = buffers.synthetic_gradient(parity)
        ops: list[Op] = [
            Send(group.chain[c], sg, j, buffers.Y, parity * len(owned) + t, 1, f"synthetic gradient y{j}")
            for t, j in enumerate(owned)
            for c in group.layer.contributors(j)
        ]
        needed = group.needed(q)
        ops.append(Wait(sg, uses * len(needed), "wait synthetic gradients"))
        act = group.plan.net.layers[0].activation
        h = buffers.hidden(0, step)
        return ops + [HiddenError(delta, s, sg, h, n, act, f"delta y{s}..y{s + n - 1}") for s, n in runs(needed)]

    def _backward(self, g: int, q: int, step: int) -> list[Op]:
        """Steps 4 and 5: the update, and for ``g > 0`` the error for the group before."""
        group = self.groups[g]
        parity, uses = step % 2, step // 2 + 1
        delta = buffers.layer_delta(parity)
        update = descend(
            group.pieces[q],
            group.layer.owned(q),
            0,
            buffers.X,
            parity * group.n_in,
            delta,
            self.hp.lr,
            self.hp.momentum,
        )
        if g == 0:
            return update
        total = buffers.total_error(g - 1, parity)
        before = self.groups[g - 1].chain[-1]
        complete: list[Op] = [Send(before, total, 0, buffers.ERROR_SUM, 0, group.n_in, f"e{g - 1} to group {g - 1}")]
        participants = list(range(len(group.chain)))
        w = buffers.weights(0)
        return reduce_error(
            group.chain, participants, q, group.pieces[q], w, g - 1, group.n_in, delta, parity, uses, complete, update
        )

    def _model_step(self, group: Group, q: int, step: int) -> list[Op]:
        """Step 6 on core ``q`` of a hidden group at the end of step ``step``: the model learns from the step before."""
        ops: list[Op] = []
        if step > 0:
            before = step - 1
            parity, uses = before % 2, before // 2 + 1
            total = buffers.total_error(group.li, parity)
            ops.append(Wait(total, uses * group.n_out, f"wait e{group.li}"))
            err = buffers.synthetic_error(parity)
            model = group.plan.layers[1]
            ops += output_errors(group.chain, model, q, err, total, 0, parity, uses, "identity", "mse")
            ops += descend(group.model_pieces[q], model.owned(q), 1, buffers.KEPT, 0, err, self.hp.sg_lr)
        if not group.plan.layers[1].pieces[q]:
            return ops
        return ops + [Copy(buffers.KEPT, 0, buffers.hidden(0, step), 0, group.n_out, f"keep h{group.li}")]
