"""The mapping space tune searches: strategy and broadcast, cores used, load path and input feed.

A candidate uses a prefix of the chip's chain of cores (``Mesh.neighbour_chain``, which
skips avoided cores): fewer cores can win, since every core holding first-layer products
fetches all the inputs over the one eLink. Every layer is mapped by the same strategy;
mixing strategies per layer is not part of the space.
"""

from __future__ import annotations

from dataclasses import dataclass

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap.lowering.feed import FEEDS
from nnmap.lowering.forward import default_chain
from nnmap.session import LOADS
from nnmap.strategies import STRATEGIES

AXES = ("strategy:broadcast", "cores", "load", "feed")
"""The axes of the space, in the order a candidate's name gives them."""


@dataclass(frozen=True, order=True)
class Candidate:
    """One mapping: the strategy and its broadcast over the first ``cores`` cores of the chain, the load and feed."""

    strategy: str
    broadcast: str
    cores: int
    load: str
    feed: str

    @property
    def name(self) -> str:
        """``strategy:broadcast/N cores/load/feed``, as tune's table prints it."""
        return f"{self.strategy}:{self.broadcast}/{self.cores}/{self.load}/{self.feed}"

    def chain(self, config: ChipConfig) -> list[Coord]:
        """The cores it runs on: the first ``cores`` of the chip's chain."""
        return default_chain(config)[: self.cores]


def core_counts(usable: int) -> list[int]:
    """The numbers of cores tried: the powers of two below ``usable``, and ``usable`` itself."""
    counts = [1 << p for p in range(usable.bit_length()) if 1 << p < usable]
    return [*counts, usable]


def broadcasts_of(strategy: str) -> tuple[str, ...]:
    """The broadcasts ``strategy`` is compared with (``Strategy.compared``)."""
    return STRATEGIES[strategy].compared()


def mapping_space(
    config: ChipConfig, loads: tuple[str, ...] | None = None, feeds: tuple[str, ...] | None = None
) -> list[Candidate]:
    """Every candidate on ``config``, in a fixed order; ``loads`` and ``feeds`` restrict those axes
    (default: every load path of ``LOADS`` and every feed of ``FEEDS``). A candidate the strategy
    cannot plan (a feed it does not take, SRAM it overflows) stays in: the estimate refuses it."""
    counts = core_counts(len(default_chain(config)))
    return [
        Candidate(name, broadcast, n, load, feed)
        for name in STRATEGIES
        for broadcast in broadcasts_of(name)
        for n in counts
        for load in loads or tuple(LOADS)
        for feed in feeds or tuple(FEEDS)
    ]
