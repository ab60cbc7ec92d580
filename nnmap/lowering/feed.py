"""How a batch's inputs reach the cores that multiply them (the readers of layer 0).

- ``preload``: the host writes every sample's inputs into every reader during the setup
  phase. A reader's ``x`` holds the whole batch, so the SRAM bounds the batch.
- ``host``: the inputs stream in during the compute phase. The host writes each sample
  into the first reader (in chain order), sample ``s`` into row ``s % DEPTH`` of its ``x``
  (``nnmap.lowering.delivery.DEPTH``); that reader passes the row on, and the readers
  relay it to every reader (``nnmap.lowering.delivery.spread``). Later
  samples travel while this one is multiplied: when the first reader is done with sample
  ``s`` it counts ``s + 1`` into a DRAM flag (the host then writes sample ``s + DEPTH``
  into that row), waits until every other reader's flag on it says sample ``s - 1`` is
  done (``WaitFlags``; a reader done with a row writes the sample's number plus one
  there), and passes sample ``s + DEPTH - 1`` on into the rows ``s - 1`` used. The batch is
  then bounded only by the outputs the cores keep for the readback.

``nnmap.training.feed`` delivers training samples (inputs and targets) its own way.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from epiphany_sim.chip import Chip
from epiphany_sim.mesh import HOST, Coord
from epiphany_sim.registry import Registry
from nnmap.buffers import X_DONE, X_FREE, X
from nnmap.errors import MappingError
from nnmap.lowering.delivery import DEPTH, spread
from nnmap.plan import Plan
from nnmap.programs import Op, Relay, Send, Signal, Wait, WaitFlags

FEEDS: Registry[type[Feed]] = Registry("feed")
"""Every input feed by name, in the order they are defined here (``@FEEDS.add``)."""


def feed_class(name: str) -> type[Feed]:
    """The feed registered as ``name``; ``MappingError`` naming the choices if there is none."""
    return FEEDS.lookup(name, MappingError)


def make_feed(plan: Plan) -> Feed:
    """The feed ``plan`` names (``plan.feed``), bringing that plan's inputs in."""
    return feed_class(plan.feed)(plan)


class Feed:
    """A way to bring a plan's inputs to the readers of its first layer.

    Args:
        plan: the plan; its chain and the deal of layer 0 are set.

    Attributes:
        readers: the chain positions holding products of layer 0, ascending.
        n_in: inputs per sample.
    """

    name = ""

    def __init__(self, plan: Plan) -> None:
        self.chain = plan.chain
        self.batch = plan.batch
        self.readers = [k for k, pieces in enumerate(plan.layers[0].pieces) if pieces]
        self.n_in = plan.net.sizes[0]

    def rows(self) -> int:
        """Samples' inputs a reader's ``x`` holds at once."""
        return self.held(self.batch)

    @staticmethod
    def held(batch: int) -> int:
        """Samples' inputs a reader's ``x`` holds at once for a batch of ``batch``."""
        raise NotImplementedError

    def row(self, sample: int) -> int:
        """The row of ``x`` that holds ``sample``'s inputs."""
        raise NotImplementedError

    def buffers(self, k: int) -> dict[str, int]:
        """SRAM buffers (name to elements) chain core ``k`` needs besides ``x``."""
        return {}

    def dram_buffers(self) -> dict[str, int]:
        """DRAM buffers (name to elements)."""
        return {}

    def loads(self, k: int, x: np.ndarray) -> dict[str, np.ndarray]:
        """What the host writes into chain core ``k`` during setup, of the inputs ``x``."""
        return {}

    def before(self, k: int, sample: int) -> list[Op]:
        """Ops for reader ``k`` that leave ``sample``'s inputs in its ``x``."""
        return []

    def after(self, k: int, sample: int) -> list[Op]:
        """Ops for reader ``k`` once it has multiplied ``sample``'s inputs."""
        return []

    def relays(self) -> dict[Coord, list[Relay]]:
        """The readers' relay rules."""
        return {}

    def host(self, chip: Chip, x: np.ndarray) -> Generator[simpy.Event, Any, None] | None:
        """The host's process during the compute phase, if it has one."""
        return None


@FEEDS.add
class Preload(Feed):
    """Every sample's inputs loaded into every reader before the compute phase."""

    name = "preload"

    @staticmethod
    def held(batch: int) -> int:
        return batch

    def row(self, sample: int) -> int:
        return sample

    def loads(self, k: int, x: np.ndarray) -> dict[str, np.ndarray]:
        return {X: x.reshape(-1)} if k in self.readers else {}


@FEEDS.add
class HostStream(Feed):
    """Each sample's inputs written by the host into the first reader during the compute phase, and relayed."""

    name = "host"

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.first, *self.others = self.readers
        self.spread = spread(self.readers, [self.first])

    @staticmethod
    def held(batch: int) -> int:
        return DEPTH

    def row(self, sample: int) -> int:
        return sample % DEPTH

    def buffers(self, k: int) -> dict[str, int]:
        return {X_DONE: len(self.others)} if k == self.first and self.others else {}

    def dram_buffers(self) -> dict[str, int]:
        return {X_FREE: 1}

    def _arrived(self, sample: int) -> Wait:
        return Wait(X, (sample + 1) * self.n_in, f"wait inputs of sample {sample}")

    def _pass_on(self, sample: int) -> list[Op]:
        """The first reader takes ``sample``'s row as it arrives and passes it on."""
        at = self.row(sample) * self.n_in
        targets = self.spread.targets[self.first]
        return [self._arrived(sample), *(Send(self.chain[q], X, at, X, at, self.n_in, "pass on") for q in targets)]

    def before(self, k: int, sample: int) -> list[Op]:
        if k != self.first:
            return [self._arrived(sample)]
        if sample > 0:
            return []
        return [op for t in range(min(DEPTH - 1, self.batch)) for op in self._pass_on(t)]

    def after(self, k: int, sample: int) -> list[Op]:
        if k != self.first:
            i = self.others.index(k)
            return [Signal(self.chain[self.first], X_DONE, i, float(sample + 1), "done with inputs")]
        ops: list[Op] = [Signal(HOST, X_FREE, 0, float(sample + 1), "input row free")]
        ahead = sample + DEPTH - 1  # into the others' rows that held sample - 1
        if ahead >= self.batch:
            return ops
        if sample > 0 and self.others:
            ops.append(WaitFlags(X_DONE, len(self.others), sample, "wait readers done"))
        return ops + self._pass_on(ahead)

    def relays(self) -> dict[Coord, list[Relay]]:
        rules: dict[Coord, list[Relay]] = {}
        for at, src, dst in self.spread.rules:
            rules.setdefault(self.chain[at], []).append(Relay(X, self.chain[src], self.chain[dst]))
        return rules

    def host(self, chip: Chip, x: np.ndarray) -> Generator[simpy.Event, Any, None]:
        host, first = chip.host, self.chain[self.first]
        host.segment = "feed"
        for s, row in enumerate(x):
            if s >= DEPTH:  # the first reader's row is free once it is done with sample s - DEPTH
                yield from host.wait(X_FREE, s - DEPTH + 1, f"wait for core {first}")
            yield from host.write(first, X, self.row(s) * self.n_in, row, f"sample {s} inputs")
