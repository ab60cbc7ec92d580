"""How a layer's finished values reach the cores that read them in the next layer: a ``Delivery``.

The command line's ``--broadcast`` picks one by name. Four of them broadcast, every hidden
value reaching every core of the chain: ``bidir``, ``oneway``, ``direct`` and ``dram``.
``targeted`` and ``stream`` do not: each value goes to the cores that read it, and no further.

The Parallella blog post "Parallel Neural Networks - Carving up the task" proposes writing
each hidden value to the left and right neighbours over the on-chip write network as soon
as it is known, each core relaying it onward (``bidir``); or one direction first and then
back, so the network writes one way at a time (``oneway``); against the "obvious method"
of writing to global DRAM and reading back (``dram``). ``direct`` is the all-to-all
alternative: every core writes its block of outputs straight into every other core's
buffer, then all wait (a barrier). ``targeted`` sends each value only to the cores that
multiply it in the next layer: the messages of a sparse network cut along its graph.
``stream`` hands each layer's values to the cores of the next layer only, which return a
credit per sample: the hand-off between the core groups of a layer pipeline.

Hidden layer ``l`` of sample ``s`` lives in buffer ``nnmap.buffers.hidden(l, s, copies)``
on every core of the chain (on its owners and readers only, with ``stream``). A delivery
``in_step`` makes every core's next layer wait for every core's values, so no core can run
two samples ahead of another: two copies by the sample's parity suffice (double-buffered).
Counts of element writes are cumulative, so sample ``s`` waits for ``(s // 2 + 1) * m``
writes. A delivery that does not keep the cores in step keeps one copy per sample instead
(``targeted``), or bounds how far ahead a core may run by other means (``stream``:
credits).

To add one, subclass ``Delivery``, give it a ``name``, override the hooks it needs and
decorate it ``@DELIVERIES.add``; ``make_delivery`` is the one place that makes one from its name.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import ClassVar, NamedTuple

import numpy as np

from epiphany_sim.mesh import HOST, Coord
from epiphany_sim.registry import Registry
from nnmap.buffers import credits, dram_flag, dram_hidden, hidden
from nnmap.errors import MappingError
from nnmap.plan import Plan, runs
from nnmap.programs import Op, PollDram, ReadDram, Relay, Send, Signal, Wait, WaitFlags

DELIVERIES: Registry[type[Delivery]] = Registry("delivery")
"""Every delivery by name (the choices of ``--broadcast``), in the order they are defined here (``@DELIVERIES.add``)."""


def delivery_class(name: str) -> type[Delivery]:
    """The delivery registered as ``name``; ``MappingError`` naming the choices if there is none."""
    return DELIVERIES.lookup(name, MappingError, "broadcast")


def make_delivery(plan: Plan) -> Delivery:
    """The delivery ``plan`` names (``plan.broadcast``), writing ops for that plan."""
    return delivery_class(plan.broadcast)(plan)


class Delivery:
    """A way for a layer's values to reach the cores that read them, along the chain of cores.

    Args:
        plan: the plan it writes ops for; its chain (consecutive cores are mesh
            neighbours), network and layers' deals are set.

    Attributes:
        chain: the cores in chain order.
        sizes: the network's layer sizes, inputs first.
        copies: how many copies of each hidden vector a core keeps (``buffer``).
    """

    name = ""
    in_step: ClassVar[bool] = True
    """Whether every core's next layer waits for every core's values (two copies of a hidden vector suffice)."""
    names_samples: ClassVar[bool] = False
    """Whether a core's program segments name the sample too (``nnmap.segments.Forward``): where
    cores work on different samples at once, a layer's name alone does not say which."""

    def __init__(self, plan: Plan) -> None:
        self.chain = plan.chain
        self.sizes = plan.net.sizes
        self.copies = 2 if self.in_step else plan.batch

    def buffer(self, layer: int, sample: int) -> str:
        """The buffer that holds hidden layer ``layer``'s vector of ``sample``."""
        return hidden(layer, sample, self.copies)

    def full_count(self, sample: int, size: int) -> int:
        """Cumulative writes ``sample``'s buffer holds once ``size`` of its elements have been written."""
        return (sample // self.copies + 1) * size

    def holds(self, k: int, layer: int) -> bool:
        """Whether chain core ``k`` keeps copies of hidden layer ``layer``'s vector."""
        return True

    def buffers(self, k: int) -> dict[str, int]:
        """SRAM buffers (name to elements) chain core ``k`` needs besides the hidden vectors."""
        return {}

    def before_layer(self, k: int, layer: int, sample: int) -> list[Op]:
        """Ops for chain core ``k`` before anything else of ``layer`` for ``sample``."""
        return []

    def on_value(self, k: int, layer: int, sample: int, j: int) -> list[Op]:
        """Ops for chain core ``k`` right after it computed hidden value ``j``."""
        return []

    def after_layer(self, k: int, layer: int, sample: int, owned: list[int]) -> list[Op]:
        """Ops for core ``k`` once it has computed all of its values of ``layer``."""
        return []

    def before_next(self, k: int, layer: int, sample: int, size: int, owners: list[list[int]]) -> list[Op]:
        """Ops for core ``k`` that leave its copy of ``layer``'s vector complete.

        ``owners[q]`` lists the hidden indices chain core ``q`` computes.
        """
        return [Wait(self.buffer(layer, sample), self.full_count(sample, size), f"wait h{layer}")]

    def after_reading(self, k: int, layer: int, sample: int) -> list[Op]:
        """Ops for chain core ``k`` once it has multiplied all it reads of hidden layer ``layer``'s vector."""
        return []

    def relays(self, n_hidden: int) -> dict[Coord, list[Relay]]:
        """The cores' relay rules."""
        return {}

    def dram_buffers(self, batch: int) -> dict[str, int]:
        """DRAM buffers (name to elements) this delivery needs."""
        return {}

    def _send(self, k: int, to: int, layer: int, sample: int, start: int, n: int, why: str) -> Send:
        buf = self.buffer(layer, sample)
        return Send(self.chain[to], buf, start, buf, start, n, f"{why} h{layer}[{start}:{start + n}]")


@DELIVERIES.add
class Bidirectional(Delivery):
    """Each value goes left and right at once; every core relays it onward."""

    name = "bidir"

    def on_value(self, k: int, layer: int, sample: int, j: int) -> list[Op]:
        return [self._send(k, q, layer, sample, j, 1, "share") for q in (k - 1, k + 1) if 0 <= q < len(self.chain)]

    def relays(self, n_hidden: int) -> dict[Coord, list[Relay]]:
        rules: dict[Coord, list[Relay]] = {}
        c = self.chain
        for k in range(len(c)):
            for layer in range(n_hidden):
                for copy in range(self.copies):
                    buf = hidden(layer, copy, self.copies)
                    if 0 < k < len(c) - 1:
                        rules.setdefault(c[k], []).append(Relay(buf, c[k - 1], c[k + 1]))
                        rules.setdefault(c[k], []).append(Relay(buf, c[k + 1], c[k - 1]))
        return rules


@DELIVERIES.add
class OneWay(Bidirectional):
    """Values flow toward the chain's end first; then each complete core sends back."""

    name = "oneway"

    def on_value(self, k: int, layer: int, sample: int, j: int) -> list[Op]:
        return [self._send(k, k + 1, layer, sample, j, 1, "share")] if k + 1 < len(self.chain) else []

    def before_next(self, k: int, layer: int, sample: int, size: int, owners: list[list[int]]) -> list[Op]:
        ops = super().before_next(k, layer, sample, size, owners)
        if k > 0:
            downstream = [j for q in range(k, len(self.chain)) for j in owners[q]]
            ops += [self._send(k, k - 1, layer, sample, s, n, "return") for s, n in runs(downstream)]
        return ops

    def relays(self, n_hidden: int) -> dict[Coord, list[Relay]]:
        c = self.chain
        return {
            c[k]: [
                Relay(hidden(layer, copy, self.copies), c[k - 1], c[k + 1])
                for layer in range(n_hidden)
                for copy in range(self.copies)
            ]
            for k in range(1, len(c) - 1)
        }


@DELIVERIES.add
class Direct(Delivery):
    """Each core writes its block straight into every other core, then all wait."""

    name = "direct"

    def after_layer(self, k: int, layer: int, sample: int, owned: list[int]) -> list[Op]:
        return [
            self._send(k, q, layer, sample, s, n, "allgather")
            for q in range(len(self.chain))
            if q != k
            for s, n in runs(owned)
        ]


@DELIVERIES.add
class ThroughDram(Delivery):
    """Values go to shared DRAM over the eLink; cores poll a flag per core, then read back."""

    name = "dram"

    def on_value(self, k: int, layer: int, sample: int, j: int) -> list[Op]:
        size = self.sizes[layer + 1]
        buf = self.buffer(layer, sample)
        return [Send(HOST, dram_hidden(layer), sample * size + j, buf, j, 1, f"h{layer}[{j}] to DRAM")]

    def after_layer(self, k: int, layer: int, sample: int, owned: list[int]) -> list[Op]:
        return [Signal(HOST, dram_flag(layer), k, float(sample + 1), f"flag h{layer}")]

    def before_next(self, k: int, layer: int, sample: int, size: int, owners: list[list[int]]) -> list[Op]:
        missing = sorted(set(range(size)) - set(owners[k]))
        ops: list[Op] = [PollDram(dram_flag(layer), len(self.chain), float(sample + 1), f"poll flags h{layer}")]
        buf = self.buffer(layer, sample)
        ops += [
            ReadDram(dram_hidden(layer), sample * size + s, buf, s, n, f"read h{layer}[{s}:{s + n}]")
            for s, n in runs(missing)
        ]
        return ops + super().before_next(k, layer, sample, size, owners)

    def dram_buffers(self, batch: int) -> dict[str, int]:
        buffers = {}
        for layer in range(len(self.sizes) - 2):
            buffers[dram_hidden(layer)] = batch * self.sizes[layer + 1]
            buffers[dram_flag(layer)] = len(self.chain)
        return buffers


@DELIVERIES.add
class Targeted(Delivery):
    """Each value goes straight to the cores that multiply it in the next layer, and nowhere else.

    A core waits only for the values it reads, so the cores do not keep in step: every
    sample has its own copy of each hidden vector.

    Attributes:
        readers: per hidden layer, ``(cores, size)`` bool: whether each chain position reads
            each value in the next layer.
    """

    name = "targeted"
    in_step = False

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.readers = [plan.layers[li + 1].readers(plan.net.sizes[li + 1]) for li in range(len(plan.layers) - 1)]

    def on_value(self, k: int, layer: int, sample: int, j: int) -> list[Op]:
        readers = np.flatnonzero(self.readers[layer][:, j])
        return [self._send(k, int(q), layer, sample, j, 1, "send") for q in readers if q != k]

    def before_next(self, k: int, layer: int, sample: int, size: int, owners: list[list[int]]) -> list[Op]:
        held = self.readers[layer][k].copy()
        held[owners[k]] = True  # its own values land in its copy too
        count = int(held.sum())
        return [Wait(self.buffer(layer, sample), self.full_count(sample, count), f"wait h{layer}")] if count else []


DEPTH = 3
"""Copies of each vector a stream keeps: how many samples a producer may be ahead of its readers.

With ``d`` copies a producer starts sample ``s`` once its readers are done with ``s - d``.
If the producer takes ``W_p`` cycles a sample, the readers ``W_r``, and the values and the
credits take ``L`` cycles to travel, the producer then starts a sample every
``max(W_p, W_r, (W_p + W_r + L) / d)`` cycles at best: with two copies the travel time adds
to every sample of two equal groups; three hide it while it is less than a group's work.
"""


class Spread(NamedTuple):
    """How messages from some sources reach every member of a sub-chain (``spread``).

    Attributes:
        targets: per source, the members it writes to itself.
        rules: ``(at, src, dst)``: member ``at`` relays what lands from ``src`` on to ``dst``.
    """

    targets: dict[int, list[int]]
    rules: list[tuple[int, int, int]]


def spread(members: list[int], sources: Iterable[int]) -> Spread:
    """Each source's messages relayed both ways along ``members`` (chain positions, ascending).

    A source writes to the nearest member below it and the nearest above it (its
    neighbours among the members when it is one); each member passes what comes from below
    on to the next member up, and what comes from above to the next one down. Every member
    but the source itself gets each message once. ``Bidirectional`` is this over the whole
    chain.
    """
    targets: dict[int, list[int]] = {}
    for p in sources:
        i = bisect.bisect_left(members, p)
        above = i + 1 if i < len(members) and members[i] == p else i
        targets[p] = members[max(i - 1, 0) : i][-1:] + members[above : above + 1]
    senders: dict[int, set[int]] = {m: set() for m in members}
    for p, written in targets.items():
        for m in written:
            senders[m].add(p)
    rules = []
    for i, m in enumerate(members):
        down = members[i - 1] if i > 0 else None
        up = members[i + 1] if i + 1 < len(members) else None
        for src in sorted(senders[m] | {q for q in (down, up) if q is not None}):
            to = up if src < m else down
            if to is not None:
                rules.append((m, src, to))
    return Spread(targets, rules)


@DELIVERIES.add
class Stream(Delivery):
    """Each layer's values go to the cores that compute the next layer, and nowhere else; they
    return a credit per sample.

    The cores holding products of layer ``l + 1`` (its readers) get hidden vector ``l``
    whole: each owner writes a value to the nearest readers on either side of it in the
    chain, which relay it along the readers (``spread``). ``DEPTH`` copies of
    each vector are kept, sample ``s`` in copy ``s % DEPTH``; a reader that has multiplied
    sample ``s``'s vector writes ``s + 1`` into its flag of ``credits(l)`` on the cores
    holding products of layer ``l``, relayed the same way, and those cores start layer ``l``
    of sample ``s`` only once every reader's flag says it is done with sample ``s - DEPTH``
    (``WaitFlags``). A core of layer ``l`` is thus at most ``DEPTH`` samples ahead of any
    reader of it, which bounds the partial-sum slots too
    (``nnmap.lowering.forward.partial_slots``). Where each layer has
    its own cores (the ``pipeline`` strategy), layer ``l`` works on sample ``s`` while layer
    ``l + 1`` works on sample ``s - 1``.

    Attributes:
        computing: per layer, the chain positions holding products of it.
        values: per hidden layer, how its values reach its readers.
        credits: per hidden layer, how the readers' credits reach the cores of that layer.
    """

    name = "stream"
    in_step = False
    names_samples = True

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.copies = DEPTH
        self.computing = [[k for k, pieces in enumerate(a.pieces) if pieces] for a in plan.layers]
        self._owners = [set(a.owner.values()) for a in plan.layers[:-1]]
        self._readers = [set(r) for r in self.computing[1:]]
        self._producers = [set(p) for p in self.computing[:-1]]
        self.values = [spread(self.computing[li + 1], sorted(o)) for li, o in enumerate(self._owners)]
        self.credits = [spread(self.computing[li], self.computing[li + 1]) for li in range(len(self._owners))]

    def holds(self, k: int, layer: int) -> bool:
        return k in self._readers[layer] or k in self._owners[layer]

    def buffers(self, k: int) -> dict[str, int]:
        return {credits(li): len(self.computing[li + 1]) for li, mine in enumerate(self._producers) if k in mine}

    def before_layer(self, k: int, layer: int, sample: int) -> list[Op]:
        if layer >= len(self._producers) or k not in self._producers[layer] or sample < self.copies:
            return []
        n = len(self.computing[layer + 1])
        return [WaitFlags(credits(layer), n, sample - self.copies + 1, f"wait credits h{layer}")]

    def on_value(self, k: int, layer: int, sample: int, j: int) -> list[Op]:
        return [self._send(k, q, layer, sample, j, 1, "stream") for q in self.values[layer].targets[k]]

    def before_next(self, k: int, layer: int, sample: int, size: int, owners: list[list[int]]) -> list[Op]:
        if k not in self._readers[layer]:
            return []
        return super().before_next(k, layer, sample, size, owners)

    def after_reading(self, k: int, layer: int, sample: int) -> list[Op]:
        i = self.computing[layer + 1].index(k)
        to = self.credits[layer].targets[k] + ([k] if k in self._producers[layer] else [])
        return [Signal(self.chain[q], credits(layer), i, float(sample + 1), f"credit h{layer}") for q in to]

    def relays(self, n_hidden: int) -> dict[Coord, list[Relay]]:
        rules: dict[Coord, list[Relay]] = {}
        c = self.chain
        for li in range(n_hidden):
            names = [hidden(li, copy, self.copies) for copy in range(self.copies)]
            for (at, src, dst), named in [(r, names) for r in self.values[li].rules] + [
                (r, [credits(li)]) for r in self.credits[li].rules
            ]:
                rules.setdefault(c[at], []).extend(Relay(name, c[src], c[dst]) for name in named)
        return rules
