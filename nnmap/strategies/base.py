"""The strategy interface: how a layer's products are dealt to a chain of cores.

A strategy only deals products (``assign``, or ``deal`` for a layer that may be sparse,
or ``place`` for the whole network and the cores it sits on) and declares what it
supports; ``deal_network`` answers a ``nnmap.plan.Deal``. Turning the deal into per-core
programs is the middle layer's (``nnmap.lowering.forward.lower``); ``nnmap.mapping.plan_for``
does both for a script.
"""

from __future__ import annotations

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from epiphany_sim.registry import Registry
from nnmap.errors import MappingError
from nnmap.lowering.delivery import DELIVERIES, delivery_class
from nnmap.lowering.forward import default_chain
from nnmap.model import Layer, Network
from nnmap.plan import Deal, LayerAssignment

SEPARATOR = "+"
"""What joins one value per layer in a strategy's name: ``partitioned+node-per-core``, ``pipeline=4+12``."""

STRATEGIES: Registry[type[Strategy]] = Registry("strategy")
"""Every strategy by name, in the order their modules were imported; ``@STRATEGIES.add`` on a subclass adds it."""


class Strategy:
    """Deals a network's products over a chain of cores.

    Subclasses set ``name`` and implement ``assign``; ``@STRATEGIES.add`` registers them.

    Attributes:
        name: the name the command line and the registry know it by.
        default_broadcast: the delivery of hidden values (``nnmap.lowering.delivery``, a
            ``--broadcast`` name) used when none is asked for.
        broadcasts: the deliveries it can run with; empty means every registered one.
        variants: the deliveries worth comparing, run by ``--strategies all`` (the command
            line and sweeps); empty means the default one alone.
    """

    name: str = ""
    default_broadcast: str = "bidir"
    broadcasts: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()

    @property
    def deals_layers_apart(self) -> bool:
        """Whether it deals each layer on its own (``deal``), so that a mix per layer may use it."""
        return type(self).place is Strategy.place

    def supports(self, broadcast: str) -> bool:
        """Whether the strategy can run with ``broadcast`` (a registered delivery's name, ``--broadcast``)."""
        return broadcast in DELIVERIES and (not self.broadcasts or broadcast in self.broadcasts)

    def compared(self) -> tuple[str, ...]:
        """The deliveries ``--strategies all`` runs this strategy with."""
        return self.variants or (self.default_broadcast,)

    def assign(self, n_in: int, n_out: int, n_cores: int) -> LayerAssignment:
        """Deal the ``n_in * n_out`` products of a layer over ``n_cores`` chain positions."""
        raise NotImplementedError

    def deal(self, layer: Layer, n_cores: int) -> LayerAssignment:
        """Deal one layer over ``n_cores`` chain positions.

        The default deals it as a dense layer (``assign``); on a sparse layer the plan then
        keeps, of each piece, only the connections the layer has
        (``nnmap.lowering.sparse.compress``). A strategy that balances the connections
        themselves overrides this.
        """
        return self.assign(layer.n_in, layer.n_out, n_cores)

    def place(self, config: ChipConfig, net: Network, chain: list[Coord]) -> tuple[list[Coord], list[LayerAssignment]]:
        """The chain of cores and every layer's deal over it.

        The default keeps ``chain`` and deals the layers one by one (``deal``); a strategy
        that also chooses where its parts sit on the mesh overrides this and returns the
        cores of ``chain`` in the order of its parts.
        """
        return chain, [self.deal(layer, len(chain)) for layer in net.layers]

    def deal_network(
        self, config: ChipConfig, net: Network, broadcast: str | None = None, chain: list[Coord] | None = None
    ) -> Deal:
        """The chain of cores and every layer's deal over it, with the broadcast checked; the lowering
        (``nnmap.lowering.forward.lower``) makes the plan of it.

        ``broadcast`` defaults to ``default_broadcast``; ``chain`` replaces the snake over the mesh's
        usable cores (``default_chain``; consecutive cores should be neighbours). Raises ``MappingError``
        for a broadcast it does not support.
        """
        broadcast = delivery_class(broadcast or self.default_broadcast).name
        if not self.supports(broadcast):
            raise MappingError(f"strategy {self.name} does not support broadcast {broadcast!r}")
        chain, layers = self.place(config, net, chain or default_chain(config))
        return Deal(self.name, broadcast, chain, layers)


def all_variants() -> list[tuple[str, str]]:
    """``(strategy, broadcast)`` for every strategy and each delivery (``--broadcast`` name) it is compared with."""
    return [(name, bc) for name, cls in STRATEGIES.items() for bc in cls().compared()]
