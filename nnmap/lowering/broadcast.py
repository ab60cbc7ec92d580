"""How a finished hidden value reaches every core before the next layer.

The Parallella blog post "Parallel Neural Networks - Carving up the task" proposes writing
each hidden value to the left and right neighbours over the on-chip write network as soon
as it is known, each core relaying it onward (``bidir``); or one direction first and then
back, so the network writes one way at a time (``oneway``); against the "obvious method"
of writing to global DRAM and reading back (``dram``). ``direct`` is the all-to-all
alternative: every core writes its block of outputs straight into every other core's
buffer, then all wait (a barrier). ``targeted`` sends each value only to the cores that
multiply it in the next layer: the messages of a sparse network cut along its graph.

Hidden layer ``l`` of sample ``s`` lives in buffer ``nnmap.buffers.hidden(l, s, copies)``
on every core of the chain. A broadcast ``in_step`` makes every core's next layer wait for
every core's values, so no core can run two samples ahead of another: two copies by the
sample's parity suffice (double-buffered). Counts of element writes are cumulative, so
sample ``s`` waits for ``(s // 2 + 1) * m`` writes. A broadcast that does not keep the
cores in step (``targeted``) keeps one copy per sample instead.

To add a broadcast, subclass ``Broadcast``, give it a ``name``, override the hooks it needs
and add it to ``BROADCASTS``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from epiphany_sim.mesh import HOST, Coord
from nnmap.buffers import dram_flag, dram_hidden, hidden
from nnmap.plan import Plan, runs
from nnmap.program import Op, PollDram, ReadDram, Relay, Send, Signal, Wait


class Broadcast:
    """A way to share hidden values along the chain of cores.

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

    def relays(self, n_hidden: int) -> dict[Coord, list[Relay]]:
        """Forwarding rules for the cores' DMA engines."""
        return {}

    def dram_buffers(self, batch: int) -> dict[str, int]:
        """DRAM buffers (name to elements) this variant needs."""
        return {}

    def _send(self, k: int, to: int, layer: int, sample: int, start: int, n: int, why: str) -> Send:
        buf = self.buffer(layer, sample)
        return Send(self.chain[to], buf, start, buf, start, n, f"{why} h{layer}[{start}:{start + n}]")


class Bidirectional(Broadcast):
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


class Direct(Broadcast):
    """Each core writes its block straight into every other core, then all wait."""

    name = "direct"

    def after_layer(self, k: int, layer: int, sample: int, owned: list[int]) -> list[Op]:
        return [
            self._send(k, q, layer, sample, s, n, "allgather")
            for q in range(len(self.chain))
            if q != k
            for s, n in runs(owned)
        ]


class ThroughDram(Broadcast):
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


class Targeted(Broadcast):
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


BROADCASTS: dict[str, type[Broadcast]] = {b.name: b for b in (Bidirectional, OneWay, Direct, ThroughDram, Targeted)}
