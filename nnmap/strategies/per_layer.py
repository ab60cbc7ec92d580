"""A strategy per layer: each layer dealt by its own strategy over the same chain of cores.

A layer that one strategy deals may suit another better than the next: whole neurons per core
where the outputs outnumber the cores, split product ranges where they do not. The hand-off
between two layers dealt differently needs nothing of its own: the delivery carries every
hidden value from the core that owns it to every core that reads it
(``nnmap.lowering.delivery``), whichever strategy chose the owner and the readers.

Only strategies that deal each layer apart (``Strategy.deals_layers_apart``) mix: graph cut
partitions the whole network at once and the pipeline gives each layer its own group.
"""

from __future__ import annotations

from collections.abc import Sequence

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap.errors import MappingError
from nnmap.lowering.delivery import DELIVERIES
from nnmap.model import Network
from nnmap.plan import LayerAssignment
from nnmap.strategies.base import SEPARATOR, Strategy


class PerLayer(Strategy):
    """Layer ``l`` dealt by ``members[l]``; the deliveries are those every member runs with."""

    def __init__(self, members: Sequence[Strategy]) -> None:
        refused = [m.name for m in members if not m.deals_layers_apart]
        if refused:
            raise MappingError(
                f"strategy {refused[0]} maps the whole network at once and cannot be one layer's strategy"
            )
        self.members = list(members)
        self.name = SEPARATOR.join(m.name for m in members)
        self.broadcasts = tuple(bc for bc in DELIVERIES if all(m.supports(bc) for m in members))
        if not self.broadcasts:
            raise MappingError(f"strategies {', '.join(m.name for m in members)} have no broadcast in common")
        self.variants = tuple(dict.fromkeys(bc for m in members for bc in m.compared() if bc in self.broadcasts))
        defaults = [m.default_broadcast for m in members if m.default_broadcast in self.broadcasts]
        self.default_broadcast = defaults[0] if defaults else self.broadcasts[0]

    def place(self, config: ChipConfig, net: Network, chain: list[Coord]) -> tuple[list[Coord], list[LayerAssignment]]:
        if len(self.members) != len(net.layers):
            raise MappingError(
                f"strategy {self.name} names {len(self.members)} layers' strategies but the network has "
                f"{len(net.layers)} layers"
            )
        return chain, [m.deal(layer, len(chain)) for m, layer in zip(self.members, net.layers, strict=True)]
