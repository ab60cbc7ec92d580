"""The forward code generator: from a strategy's deal (``nnmap.plan.Deal``) to a plan's buffers,
initial values, relay rules and per-core programs (``lower``).

For each core and each layer the ops follow the blog post's steps: first the partial sums that
another core waits for (computed and sent at once), then the outputs the core computes
whole (each shared as soon as it is known), then the outputs whose partial sums arrive
from other cores. The layer's flow (``nnmap.lowering.flows``) writes each piece's ops and
says which of these stages they belong to; the delivery (``nnmap.lowering.delivery``)
adds the ops that bring hidden values to the cores that read them.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.garbage_collector import fewer_collections
from epiphany_sim.mesh import HOST, Coord, Mesh
from nnmap import buffers
from nnmap.capacity import check_fits, check_usable, fit_hint, fullest_core
from nnmap.errors import MappingError
from nnmap.lowering.delivery import Delivery, make_delivery
from nnmap.lowering.feed import Feed, feed_class, make_feed
from nnmap.lowering.flows import PieceContext, staged_ops
from nnmap.lowering.sparse import compress
from nnmap.model import Network
from nnmap.plan import ELEMENT_BYTES, Deal, Piece, Plan, piece_offsets, runs
from nnmap.programs import Activate, Begin, Mac, Op, Relay, Send, SparseMac
from nnmap.segments import Forward


def partial_slots(net: Network, batch: int, bc: Delivery) -> int:
    """How many samples' partial sums a receiving core keeps apart (the ``slot`` of their buffers).

    With a hidden layer, as many slots as the delivery keeps copies of a hidden vector
    suffice, for the reason those copies do (see ``nnmap.lowering.delivery``): a delivery
    that keeps the cores in step keeps them within one sample of each other (two copies);
    ``stream`` keeps the cores of a layer within ``DEPTH`` samples of every reader of it
    (``DEPTH`` copies); ``targeted`` bounds nothing (a copy per sample). Without a hidden
    layer, a core that only hands off partial sums could run any number of samples ahead of
    the core adding them and overwrite a slot not yet read: there, every sample gets its
    own slot.
    """
    return bc.copies if len(net.layers) > 1 else batch


def output_activation(net: Network) -> str:
    """The activation the cores apply to the last layer: softmax needs the whole vector, so the host applies it."""
    final = net.layers[-1].activation
    return "identity" if final == "softmax" else final


def lower(deal: Deal, config: ChipConfig, net: Network, batch: int = 1, feed: str = "preload") -> Plan:
    """The plan of ``deal``: every core's buffers, initial values, relay rules and programs.

    ``feed`` names how the inputs reach the cores (``nnmap.lowering.feed``). Raises
    ``MappingError`` if the plan cannot run on ``config`` (a batch below one, an unknown feed,
    an avoided core in the chain, buffers that do not fit).
    """
    plan = layout(deal, config, net, batch, feed)
    check_fits(config, net.sizes, plan.buffers, fit_hint(config, batch), MappingError, plan.chain)
    bc, fd = make_delivery(plan), make_feed(plan)
    with fewer_collections():
        ops = {
            coord: tuple(op for s in range(batch) for op in _sample_ops(plan, bc, fd, k, s, fd.row(s), s))
            for k, coord in enumerate(plan.chain)
        }
        readback = {coord: _readback(plan, k) for k, coord in enumerate(plan.chain)}
    return replace(plan, ops=ops, readback=readback)


def layout(deal: Deal, config: ChipConfig, net: Network, batch: int, feed: str = "preload") -> Plan:
    """``deal``'s plan with its buffers, initial values, DRAM buffers and relays, but no programs.

    A sparse layer's deal is compressed first: each core keeps only the connections it has
    (``nnmap.lowering.sparse``). Cheap next to the programs (whose length grows with the
    batch), so it is what a check of whether a batch fits looks at (``largest_batch``).
    """
    if batch < 1:
        raise MappingError(f"batch must be >= 1, got {batch}")
    feed_class(feed)
    check_usable(config, deal.chain, MappingError)
    layers = [compress(assign, layer.mask) for assign, layer in zip(deal.layers, net.layers, strict=True)]
    bare = Plan(config, net, deal.strategy, deal.broadcast, batch, list(deal.chain), layers, feed=feed)
    bc, fd = make_delivery(bare), make_feed(bare)
    relays: dict[Coord, tuple[Relay, ...]] = {}
    for rules in (bc.relays(len(net.layers) - 1), fd.relays()):
        for coord, more in rules.items():
            relays[coord] = (*relays.get(coord, ()), *more)
    named, setup = {}, {}
    for k, coord in enumerate(bare.chain):
        named[coord], setup[coord] = _layout(bare, bc, fd, k)
    return replace(
        bare,
        buffers=named,
        setup=setup,
        parameters={coord: list(values) for coord, values in setup.items()},
        relays=relays,
        dram={buffers.OUT: batch * net.sizes[-1], **bc.dram_buffers(batch), **fd.dram_buffers()},
    )


def largest_batch(deal: Deal, config: ChipConfig, net: Network, rows: int, feed: str = "preload") -> int:
    """The most samples, at most ``rows``, whose plan of ``deal`` fits every core's SRAM; 0 if not even one does.

    Every buffer grows with the batch, so the batches that fit are the ones below a
    bound, found by bisection on the plan's buffers alone (no programs are built).
    """

    def fits(batch: int) -> bool:
        return fullest_core(layout(deal, config, net, batch, feed).buffers)[1] <= config.data_bytes

    high = rows
    if feed == "preload":  # a core with first-layer products holds every sample's inputs
        high = min(rows, config.data_bytes // (net.sizes[0] * ELEMENT_BYTES))
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def default_chain(config: ChipConfig, order: str = "rows") -> list[Coord]:
    """The mesh's usable cores in ``order`` (``Mesh.neighbour_chain``), by default the snake over the rows:
    consecutive cores are neighbours except around an avoided core."""
    return Mesh(config).neighbour_chain(order)


def _layout(plan: Plan, bc: Delivery, fd: Feed, k: int) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Core ``k``'s buffers, in the order they are allocated, and their initial values (its parameters)."""
    net, batch = plan.net, plan.batch
    named: dict[str, int] = {}
    setup: dict[str, np.ndarray] = {}
    if plan.layers[0].pieces[k]:
        named[buffers.X] = fd.rows() * net.sizes[0]
    for li, (layer, assign) in enumerate(zip(net.layers, plan.layers, strict=True)):
        assign.flow.check(assign, k, li)
        pieces = assign.pieces[k]
        if pieces:
            w = np.concatenate([layer.weights[list(p.inputs), p.j] for p in pieces]).astype(np.float32)
            setup[buffers.weights(li)] = w
            named[buffers.weights(li)] = len(w)
            if layer.mask is not None:
                rows = np.concatenate([p.input_array() for p in pieces]).astype(np.float32)
                setup[buffers.weight_inputs(li)] = rows
                named[buffers.weight_inputs(li)] = len(rows)
            named[buffers.acc(li)] = len(pieces)
        owned = assign.owned(k)
        if owned:
            setup[buffers.bias(li)] = layer.bias[owned].astype(np.float32)
            named[buffers.bias(li)] = len(owned)
        for slot in range(partial_slots(net, batch, bc)):
            named.update(assign.flow.receive_buffers(assign, k, li, slot))
        if li < len(net.layers) - 1 and bc.holds(k, li):
            for copy in range(bc.copies):
                named[bc.buffer(li, copy)] = layer.n_out
    named.update(bc.buffers(k))
    named.update(fd.buffers(k))
    if plan.layers[-1].owned(k):
        named[buffers.Y] = batch * len(plan.layers[-1].owned(k))
    return named, setup


def _readback(plan: Plan, k: int) -> tuple[Op, ...]:
    """Core ``k`` writes the outputs it owns into the host's DRAM, sample by sample."""
    owned = plan.layers[-1].owned(k)
    n_out = plan.net.sizes[-1]
    return tuple(
        Send(
            HOST,
            buffers.OUT,
            s * n_out + start,
            buffers.Y,
            s * len(owned) + owned.index(start),
            n,
            f"outputs y{start}..y{start + n - 1} of sample {s}",
        )
        for s in range(plan.batch)
        for start, n in runs(owned)
    )


def sample_ops(plan: Plan, k: int, s: int, row: int) -> list[Op]:
    """The forward ops of chain core ``k`` for the ``s``-th sample the plan's cores run.

    ``s`` sets the buffer parities and cumulative wait counts; ``row`` is where the sample's
    inputs and outputs sit in the ``x`` and ``y`` buffers. A trainer reuses a plan of batch 2
    this way, over and over.
    """
    return _sample_ops(plan, make_delivery(plan), make_feed(plan), k, s, row, row)


def _sample_ops(plan: Plan, bc: Delivery, fd: Feed, k: int, s: int, x_row: int, y_row: int) -> list[Op]:
    ops: list[Op] = []
    for li in range(len(plan.net.layers)):
        ops += _LayerCode(plan, bc, fd, k, s, li, x_row, y_row).ops()
    return ops


class _LayerCode:
    """The ops of one layer of one sample on chain core ``k``; the sample's inputs sit in row ``x_row`` of ``x``,
    its outputs go to row ``y_row`` of ``y``."""

    def __init__(self, plan: Plan, bc: Delivery, fd: Feed, k: int, s: int, li: int, x_row: int, y_row: int) -> None:
        self.plan, self.bc, self.fd, self.k, self.s, self.li = plan, bc, fd, k, s, li
        self.x_row, self.y_row = x_row, y_row
        self.layer = plan.net.layers[li]
        self.assign = plan.layers[li]
        self.is_hidden = li < len(plan.net.layers) - 1
        self.owned = self.assign.owned(k)

    def ops(self) -> list[Op]:
        plan, bc, k, s, li = self.plan, self.bc, self.k, self.s, self.li
        ops: list[Op] = [Begin(Forward(li, s if bc.names_samples else None))]
        ops += bc.before_layer(k, li, s)
        if li > 0:
            owners = plan.layers[li - 1].all_owned()
            ops += bc.before_next(k, li - 1, s, self.layer.n_in, owners)
        pieces = self.assign.pieces[k]
        if pieces:
            first = li == 0
            ops += self.fd.before(k, s) if first else []
            ops += self._pieces()
            ops += self.fd.after(k, s) if first else bc.after_reading(k, li - 1, s)
        if self.is_hidden:
            ops += bc.after_layer(k, li, s, self.owned if pieces else [])
        return ops

    def _pieces(self) -> list[Op]:
        """Every piece's ops, grouped by stage in the order the stages run."""
        plan, li = self.plan, self.li
        pieces = self.assign.pieces[self.k]
        x_buf, x_base = (buffers.X, self.x_row * self.layer.n_in) if li == 0 else (self.bc.buffer(li - 1, self.s), 0)
        offsets = piece_offsets(pieces)
        slots = partial_slots(plan.net, plan.batch, self.bc)
        contexts = []
        acc, w = buffers.acc(li), buffers.weights(li)
        for t, p in enumerate(pieces):
            at = offsets[t]
            mac: Op
            if isinstance(p, Piece):
                mac = Mac(acc, t, x_buf, x_base + p.start, w, at, p.count, p.stride, f"mac y{p.j}")
            else:
                mac = SparseMac(acc, t, x_buf, x_base, w, buffers.weight_inputs(li), at, p.count, f"mac y{p.j}")
            contexts.append(
                PieceContext(
                    self.assign,
                    plan.chain,
                    li,
                    self.k,
                    t,
                    self.s % slots,
                    self.s // slots + 1,
                    mac,
                    partial(self._finish, t),
                )
            )
        return staged_ops(contexts)

    def _finish(self, t: int) -> list[Op]:
        """Bias, activation and the store of piece ``t``'s output; a hidden value is also shared."""
        j = self.assign.pieces[self.k][t].j
        owned = self.owned
        if self.is_hidden:
            out, index, act = self.bc.buffer(self.li, self.s), j, self.layer.activation
        else:
            out, index, act = buffers.Y, self.y_row * len(owned) + owned.index(j), output_activation(self.plan.net)
        done: list[Op] = [
            Activate(out, index, buffers.acc(self.li), t, buffers.bias(self.li), owned.index(j), act, f"act y{j}")
        ]
        return done + (self.bc.on_value(self.k, self.li, self.s, j) if self.is_hidden else [])
