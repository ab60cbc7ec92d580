"""How a finished hidden value reaches every core before the next layer.

The Parallella blog post "Parallel Neural Networks - Carving up the task" proposes writing
each hidden value to the left and right neighbours over the on-chip write network as soon
as it is known, each core relaying it onward (``bidir``); or one direction first and then
back, so the network writes one way at a time (``oneway``); against the "obvious method"
of writing to global DRAM and reading back (``dram``). ``direct`` is the all-to-all
alternative: every core writes its block of outputs straight into every other core's
buffer, then all wait (a barrier).

Hidden layer ``l`` of sample ``s`` lives in buffer ``nnmap.buffers.hidden(l, s)`` on every
core of the chain, one of two copies by the sample's parity (double-buffered: no core can
run two samples ahead of another, because each sample's next layer needs every core's
values). Counts of element writes are cumulative, so sample ``s`` waits for
``(s // 2 + 1) * m`` writes.

To add a broadcast, subclass ``Broadcast``, give it a ``name``, override the hooks it needs
and add it to ``BROADCASTS``.
"""

from __future__ import annotations

from epiphany_sim.mesh import HOST, Coord
from nnmap.buffers import dram_flag, dram_hidden, hidden
from nnmap.plan import runs
from nnmap.program import Op, PollDram, ReadDram, Relay, Send, Signal, Wait


def full_count(sample: int, size: int) -> int:
    """Cumulative writes a hidden buffer holds once ``sample``'s vector is complete."""
    return (sample // 2 + 1) * size


class Broadcast:
    """A way to share hidden values along the chain of cores.

    Args:
        chain: cores in chain order (consecutive cores are mesh neighbours).
        sizes: the network's layer sizes, inputs first.
    """

    name = ""

    def __init__(self, chain: list[Coord], sizes: list[int]) -> None:
        self.chain = chain
        self.sizes = sizes

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
        return [Wait(hidden(layer, sample), full_count(sample, size), f"wait h{layer}")]

    def relays(self, n_hidden: int) -> dict[Coord, list[Relay]]:
        """Forwarding rules for the cores' DMA engines."""
        return {}

    def dram_buffers(self, batch: int) -> dict[str, int]:
        """DRAM buffers (name to elements) this variant needs."""
        return {}

    def _send(self, k: int, to: int, layer: int, sample: int, start: int, n: int, why: str) -> Send:
        buf = hidden(layer, sample)
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
                for parity in (0, 1):
                    buf = hidden(layer, parity)
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
            c[k]: [Relay(hidden(layer, parity), c[k - 1], c[k + 1]) for layer in range(n_hidden) for parity in (0, 1)]
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
        buf = hidden(layer, sample)
        return [Send(HOST, dram_hidden(layer), sample * size + j, buf, j, 1, f"h{layer}[{j}] to DRAM")]

    def after_layer(self, k: int, layer: int, sample: int, owned: list[int]) -> list[Op]:
        return [Signal(HOST, dram_flag(layer), k, float(sample + 1), f"flag h{layer}")]

    def before_next(self, k: int, layer: int, sample: int, size: int, owners: list[list[int]]) -> list[Op]:
        missing = sorted(set(range(size)) - set(owners[k]))
        ops: list[Op] = [PollDram(dram_flag(layer), len(self.chain), float(sample + 1), f"poll flags h{layer}")]
        ops += [
            ReadDram(dram_hidden(layer), sample * size + s, hidden(layer, sample), s, n, f"read h{layer}[{s}:{s + n}]")
            for s, n in runs(missing)
        ]
        return ops + super().before_next(k, layer, sample, size, owners)

    def dram_buffers(self, batch: int) -> dict[str, int]:
        buffers = {}
        for layer in range(len(self.sizes) - 2):
            buffers[dram_hidden(layer)] = batch * self.sizes[layer + 1]
            buffers[dram_flag(layer)] = len(self.chain)
        return buffers


BROADCASTS: dict[str, type[Broadcast]] = {b.name: b for b in (Bidirectional, OneWay, Direct, ThroughDram)}
