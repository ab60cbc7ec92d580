"""The strategy interface and the code generator every strategy shares.

A strategy only decides how each layer's products are dealt (``assign``); turning that into
per-core programs is common: on each core, first the partial sums that another core waits
for (computed and sent at once, seed 003's steps 1-2), then the outputs the core computes
whole (step 3, each shared as soon as it is known, step 5), then the outputs whose partial
sum arrives from upstream (steps 6-10).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import HOST, Mesh
from nnmap.broadcast import BROADCASTS, Broadcast, hidden, runs
from nnmap.errors import MappingError
from nnmap.model import Network
from nnmap.plan import LayerAssignment, Plan
from nnmap.program import Activate, Mac, Op, Phase, Send, Sum, Wait

REGISTRY: dict[str, type[Strategy]] = {}


class Strategy:
    """Deals a network's products over a chain of cores.

    Subclasses set ``name`` and ``default_broadcast`` and implement ``assign``; defining
    the subclass registers it.
    """

    name: ClassVar[str] = ""
    default_broadcast: ClassVar[str] = "bidir"
    broadcasts: ClassVar[tuple[str, ...]] = tuple(BROADCASTS)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            REGISTRY[cls.name] = cls

    def assign(self, n_in: int, n_out: int, n_cores: int) -> LayerAssignment:
        """Deal the ``n_in * n_out`` products of a layer over ``n_cores`` chain positions."""
        raise NotImplementedError

    def plan(
        self, chip: ChipConfig, net: Network, batch: int = 1, broadcast: str | None = None,
        chain: list[tuple[int, int]] | None = None,
    ) -> Plan:
        """Build the whole plan; raise ``MappingError`` if it cannot run on ``chip``.

        ``chain`` replaces the snake over the whole mesh (consecutive cores should be neighbours).
        """
        broadcast = broadcast or self.default_broadcast
        if broadcast not in BROADCASTS:
            raise MappingError(f"unknown broadcast {broadcast!r}: use one of {', '.join(BROADCASTS)}")
        if broadcast not in self.broadcasts:
            raise MappingError(f"strategy {self.name} does not support broadcast {broadcast!r}")
        if batch < 1:
            raise MappingError(f"batch must be >= 1, got {batch}")
        chain = chain or Mesh(chip).neighbour_chain()
        layers = [self.assign(layer.n_in, layer.n_out, len(chain)) for layer in net.layers]
        plan = Plan(chip, net, self.name, broadcast, batch, chain, layers)
        _generate(plan, BROADCASTS[broadcast](chain, net.sizes))
        plan.check_fits()
        return plan


def partial_slots(net: Network, batch: int) -> int:
    """How many samples' partial sums a receiving core keeps apart (``pin{l}.{slot}``, ``ps...``).

    With a hidden layer, two slots suffice for the reason the hidden buffers are double
    buffered (see ``nnmap.broadcast``): each sample's hidden vector needs every core's
    values, which keeps the cores within one sample of each other. A single-layer network
    has no such broadcast, so a core that only hands off partial sums could run any number
    of samples ahead of the core adding them and overwrite a slot not yet read: there,
    every sample gets its own slot.
    """
    return 2 if len(net.layers) > 1 else batch


def _generate(plan: Plan, bc: Broadcast) -> None:
    net, batch, chain = plan.net, plan.batch, plan.chain
    n_layers = len(net.layers)
    final = net.layers[-1]
    # softmax needs the whole output vector: the cores leave it to the host after readback.
    final_activation = "identity" if final.activation == "softmax" else final.activation
    plan.dram = {"out": batch * final.n_out, **bc.dram_buffers(batch)}
    plan.relays = bc.relays(n_layers - 1)
    for k, coord in enumerate(chain):
        buffers: dict[str, int] = {}
        setup: dict[str, np.ndarray] = {}
        if plan.layers[0].pieces[k]:
            buffers["x"] = batch * net.sizes[0]
        for l, (layer, assign) in enumerate(zip(net.layers, plan.layers, strict=True)):
            pieces = assign.pieces[k]
            if pieces:
                weights = np.concatenate([layer.weights[list(p.inputs), p.j] for p in pieces])
                setup[f"w{l}"] = weights.astype(np.float32)
                buffers[f"w{l}"] = len(weights)
                buffers[f"acc{l}"] = len(pieces)
            owned = assign.owned(k)
            if owned:
                setup[f"b{l}"] = layer.bias[owned].astype(np.float32)
                buffers[f"b{l}"] = len(owned)
            for slot in range(partial_slots(net, batch)):
                for name, size in _receive_buffers(assign, k, l, slot).items():
                    buffers[name] = size
            if l < n_layers - 1:
                buffers[hidden(l, 0)] = buffers[hidden(l, 1)] = layer.n_out
        if plan.layers[-1].owned(k):
            buffers["y"] = batch * len(plan.layers[-1].owned(k))
        plan.buffers[coord] = buffers
        plan.setup[coord] = setup
        plan.ops[coord] = [op for s in range(batch) for op in _sample_ops(plan, bc, k, s, final_activation)]
        owned_final = plan.layers[-1].owned(k)
        plan.readback[coord] = [
            Send(HOST, "out", s * final.n_out + start, "y", s * len(owned_final) + owned_final.index(start), n,
                 f"outputs y{start}..y{start + n - 1} of sample {s}")
            for s in range(batch)
            for start, n in runs(owned_final)
        ]


def _receive_buffers(assign: LayerAssignment, k: int, l: int, slot: int) -> dict[str, int]:
    """Buffers core ``k`` needs for the partial sums other cores send it in layer ``l``."""
    out: dict[str, int] = {}
    for piece in assign.pieces[k]:
        contributors = assign.contributors(piece.j)
        if len(contributors) < 2:
            continue
        if assign.flow == "chain" and contributors[0] != k:
            out[f"pin{l}.{slot}"] = 1
        elif assign.flow == "gather" and assign.owner[piece.j] == k:
            out[f"ps{l}.{slot}.{piece.j}"] = len(contributors) - 1
    return out


def sample_ops(plan: Plan, k: int, s: int, row: int) -> list[Op]:
    """The forward ops of chain core ``k`` for the ``s``-th sample the plan's cores run.

    ``s`` sets the buffer parities and cumulative wait counts; ``row`` is where the sample's
    inputs and outputs sit in the ``x`` and ``y`` buffers. A trainer reuses a plan of batch 1
    this way, over and over, with ``row = 0``.
    """
    final = plan.net.layers[-1].activation
    bc = BROADCASTS[plan.broadcast](plan.chain, plan.net.sizes)
    return _sample_ops(plan, bc, k, s, "identity" if final == "softmax" else final, row)


def _sample_ops(plan: Plan, bc: Broadcast, k: int, s: int, final_activation: str, row: int | None = None) -> list[Op]:
    row = s if row is None else row
    net = plan.net
    n_layers = len(net.layers)
    ops: list[Op] = []
    for l, (layer, assign) in enumerate(zip(net.layers, plan.layers, strict=True)):
        ops.append(Phase(f"layer {l}"))
        if l > 0:
            prev = plan.layers[l - 1]
            owners = [prev.owned(q) for q in range(len(plan.chain))]
            ops += bc.before_next(k, l - 1, s, layer.n_in, owners)
        pieces = assign.pieces[k]
        if not pieces:
            if l < n_layers - 1:
                ops += bc.after_layer(k, l, s, [])
            continue
        if l == 0:
            x_buf, x_base = "x", row * layer.n_in
        else:
            x_buf, x_base = hidden(l - 1, s), 0
        is_hidden = l < n_layers - 1
        owned = assign.owned(k)
        offsets = np.cumsum([0] + [p.count for p in pieces])
        incoming_chain = 0
        slots = partial_slots(net, plan.batch)
        slot, uses = s % slots, s // slots + 1  # this sample's slot, and its use of it

        def mac(t: int) -> Mac:
            p = pieces[t]
            return Mac(f"acc{l}", t, x_buf, x_base + p.start, f"w{l}", int(offsets[t]), p.count, p.stride,
                       f"mac y{p.j}")

        def finish(t: int) -> list[Op]:
            j = pieces[t].j
            if is_hidden:
                out, index = hidden(l, s), j
            else:
                out, index = "y", row * len(owned) + owned.index(j)
            act = layer.activation if is_hidden else final_activation
            done: list[Op] = [Activate(out, index, f"acc{l}", t, f"b{l}", owned.index(j), act, f"act y{j}")]
            return done + (bc.on_value(k, l, s, j) if is_hidden else [])

        sends: list[Op] = []
        whole: list[Op] = []
        waits: list[Op] = []
        for t, p in enumerate(pieces):
            contributors = assign.contributors(p.j)
            pos = contributors.index(k)
            mine = assign.owner[p.j] == k
            if assign.flow == "chain":
                receives = pos > 0
                incoming_chain += receives
                pin = f"pin{l}.{slot}"
                take = [Wait(pin, uses, f"wait partial y{p.j}"), Sum(f"acc{l}", t, pin, 0, 1, "add partial")]
                if not mine:
                    nxt = plan.chain[contributors[pos + 1]]
                    hand = Send(nxt, pin, 0, f"acc{l}", t, 1, f"partial y{p.j}")
                    sends += [mac(t)] + (take if receives else []) + [hand]
                elif receives:
                    waits += [mac(t)] + take + finish(t)
                else:
                    whole += [mac(t)] + finish(t)
            else:  # gather
                others = [q for q in contributors if q != assign.owner[p.j]]
                if not mine:
                    owner = assign.owner[p.j]
                    sends += [mac(t), Send(plan.chain[owner], f"ps{l}.{slot}.{p.j}", others.index(k), f"acc{l}", t,
                                           1, f"partial y{p.j}")]
                elif others:
                    ps = f"ps{l}.{slot}.{p.j}"
                    waits += [mac(t), Wait(ps, uses * len(others), f"wait partials y{p.j}"),
                              Sum(f"acc{l}", t, ps, 0, len(others), "add partials")] + finish(t)
                else:
                    whole += [mac(t)] + finish(t)
        if incoming_chain > 1:
            raise MappingError(f"core {k} would receive {incoming_chain} chained partial sums in layer {l}")
        ops += sends + whole + waits
        if is_hidden:
            ops += bc.after_layer(k, l, s, owned)
    return ops


def get_strategy(name: str) -> Strategy:
    """The registered strategy called ``name``."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise MappingError(f"unknown strategy {name!r}: use one of {', '.join(REGISTRY)}") from None
