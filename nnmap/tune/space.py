"""The mapping space tune searches: strategies per layer, broadcast, cores used and their order, load and feed.

A candidate uses a prefix of a chain of cores (``Mesh.neighbour_chain`` in one of its orders,
skipping avoided cores): fewer cores can win, since every core holding first-layer products
fetches all the inputs over the one eLink, and the order decides which cores a prefix takes
(a Hilbert curve's first cores sit in a square, a snake's in a row). Its strategy is a
registered one over every layer, a strategy per layer (``nnmap.strategies.per_layer``), or
the pipeline with other group sizes than its work-balanced ones.

Mixes per layer: every mix of the strategies that deal layers apart (but ``UNMIXED``) on networks of up to
``MIX_ALL_LAYERS`` layers; on deeper ones, the mixes that differ from one strategy over every
layer in one layer only. Pipeline groups: the work-balanced ones, and each way of moving a
quarter of one group's cores (one at least) to another.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import CHAIN_ORDERS, Coord
from nnmap.lowering.feed import FEEDS
from nnmap.lowering.forward import default_chain
from nnmap.model import Network
from nnmap.session import LOADS
from nnmap.strategies import STRATEGIES, get_strategy
from nnmap.strategies.base import SEPARATOR
from nnmap.strategies.pipeline import WEIGHTED, group_sizes, layer_work

AXES = ("strategy:broadcast", "cores", "order", "load", "feed")
"""The axes of the space, in the order a candidate's name gives them."""

UNMIXED = ("round-robin",)
"""Strategies left out of the mixes: round robin spreads every output over every core, the deal whose partial
sums travel most, and its plans are the slowest to build; it stays in the space over every layer."""

MIX_ALL_LAYERS = 3
"""The deepest network whose every mix of per-layer strategies is in the space."""


@dataclass(frozen=True, order=True)
class Candidate:
    """One mapping: the strategy and its broadcast over the first ``cores`` cores of a chain in ``order``,
    the load and the feed."""

    strategy: str
    broadcast: str
    cores: int
    load: str
    feed: str
    order: str = "rows"

    @property
    def name(self) -> str:
        """``strategy:broadcast/N/order/load/feed``, as tune's table prints it."""
        return f"{self.strategy}:{self.broadcast}/{self.cores}/{self.order}/{self.load}/{self.feed}"

    def axes(self) -> tuple[tuple[str, str], int, str, str, str]:
        """Its value on each axis of ``AXES``."""
        return (self.strategy, self.broadcast), self.cores, self.order, self.load, self.feed

    def chain(self, config: ChipConfig) -> list[Coord]:
        """The cores it runs on: the first ``cores`` of the chip's chain in its order."""
        return default_chain(config, self.order)[: self.cores]


def core_counts(usable: int) -> list[int]:
    """The numbers of cores tried: the powers of two below ``usable``, and ``usable`` itself."""
    counts = [1 << p for p in range(usable.bit_length()) if 1 << p < usable]
    return [*counts, usable]


def broadcasts_of(strategy: str) -> tuple[str, ...]:
    """The broadcasts ``strategy`` is compared with (``Strategy.compared``)."""
    return get_strategy(strategy).compared()


def mixes(n_layers: int) -> list[str]:
    """The strategies per layer in the space of a network of ``n_layers`` layers (see the module's text)."""
    apart = [name for name, cls in STRATEGIES.items() if cls().deals_layers_apart and name not in UNMIXED]
    if n_layers < 2:
        return []
    if n_layers <= MIX_ALL_LAYERS:
        combos: Iterator[tuple[str, ...]] = itertools.product(apart, repeat=n_layers)
    else:
        combos = (
            tuple(other if li == at else base for li in range(n_layers))
            for base in apart
            for at in range(n_layers)
            for other in apart
        )
    return list(dict.fromkeys(SEPARATOR.join(c) for c in combos if len(set(c)) > 1))


def pipeline_groups(config: ChipConfig, net: Network, n_cores: int) -> list[str]:
    """The pipelines with other groups than the work-balanced ones on ``n_cores`` cores (see the module's text)."""
    n_layers = len(net.layers)
    if n_layers < 2 or n_cores <= n_layers:
        return []
    balanced = group_sizes(layer_work(config, net), n_cores)
    out: list[str] = []
    for giver, taker in itertools.permutations(range(n_layers), 2):
        moved = max(1, balanced[giver] // 4)
        if balanced[giver] > moved:
            sizes = list(balanced)
            sizes[giver] -= moved
            sizes[taker] += moved
            out.append(WEIGHTED + SEPARATOR.join(str(s) for s in sizes))
    return list(dict.fromkeys(out))


def mapping_space(
    config: ChipConfig,
    net: Network,
    loads: Sequence[str] | None = None,
    feeds: Sequence[str] | None = None,
    orders: Sequence[str] | None = None,
) -> list[Candidate]:
    """Every candidate for ``net`` on ``config``, in a fixed order; ``loads``, ``feeds`` and ``orders`` restrict
    those axes (default: every one of ``LOADS``, ``FEEDS`` and ``CHAIN_ORDERS``). A candidate the strategy cannot
    plan (a feed it does not take, SRAM it overflows) stays in: the estimate refuses it."""
    counts = core_counts(len(default_chain(config)))
    whole = list(STRATEGIES)
    mixed = mixes(len(net.layers))
    return [
        Candidate(name, broadcast, n, load, feed, order)
        for n in counts
        for name in (whole if n == 1 else [*whole, *mixed, *pipeline_groups(config, net, n)])
        for broadcast in broadcasts_of(name)
        for order in (orders or tuple(CHAIN_ORDERS))[: None if n > 1 else 1]  # one core is the chain's first in any
        for load in loads or tuple(LOADS)
        for feed in feeds or tuple(FEEDS)
    ]


def compared_candidates(space: Sequence[Candidate]) -> list[Candidate]:
    """The candidates of ``space`` that ``nnmap compare`` would run: a registered strategy on every core, the chain
    a snake over the rows."""
    most = max((c.cores for c in space), default=0)
    return [c for c in space if c.strategy in STRATEGIES and c.cores == most and c.order == "rows"]
