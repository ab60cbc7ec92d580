"""The strategy interface: how a layer's products are dealt to a chain of cores.

A strategy only deals products (``assign``, or ``deal`` for a layer that may be sparse,
or ``place`` for the whole network and the cores it sits on) and declares what it
supports; turning the deal into per-core programs is the middle layer's
(``nnmap.lowering``).
"""

from __future__ import annotations

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from epiphany_sim.registry import Registry
from nnmap.capacity import fullest_core
from nnmap.errors import MappingError
from nnmap.lowering.broadcast import BROADCASTS
from nnmap.lowering.feed import FEEDS
from nnmap.lowering.forward import add_programs, default_chain, layout
from nnmap.model import Layer, Network
from nnmap.plan import ELEMENT_BYTES, LayerAssignment, Plan

SEPARATOR = "+"
"""What joins one value per layer in a strategy's name: ``partitioned+node-per-core``, ``pipeline=4+12``."""

STRATEGIES: Registry[type[Strategy]] = Registry("strategy")
"""Every strategy by name, in the order their modules were imported; ``@STRATEGIES.add`` on a subclass adds it."""


class Strategy:
    """Deals a network's products over a chain of cores.

    Subclasses set ``name`` and implement ``assign``; ``@STRATEGIES.add`` registers them.

    Attributes:
        name: the name the command line and the registry know it by.
        default_broadcast: the broadcast used when none is asked for.
        broadcasts: the broadcasts it can run with; empty means every registered one.
        variants: the broadcasts worth comparing, run by ``--strategies all`` (the command
            line and sweeps); empty means the default broadcast alone.
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
        """Whether the strategy can run with ``broadcast`` (a registered broadcast)."""
        return broadcast in BROADCASTS and (not self.broadcasts or broadcast in self.broadcasts)

    def compared(self) -> tuple[str, ...]:
        """The broadcasts ``--strategies all`` runs this strategy with."""
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

    def plan(
        self,
        config: ChipConfig,
        net: Network,
        batch: int = 1,
        broadcast: str | None = None,
        chain: list[Coord] | None = None,
        feed: str = "preload",
    ) -> Plan:
        """Build the whole plan; raise ``MappingError`` if it cannot run on ``config``.

        ``chain`` replaces the snake over the mesh's usable cores (``default_chain``; consecutive cores
        should be neighbours, and none may be one the chip avoids);
        ``feed`` names how the inputs reach the cores (``nnmap.lowering.feed``).
        """
        if feed not in FEEDS:
            raise MappingError(f"unknown feed {feed!r}: use one of {', '.join(FEEDS)}")
        if batch < 1:
            raise MappingError(f"batch must be >= 1, got {batch}")
        broadcast, chain, layers = self._deal(config, net, broadcast, chain)
        return add_programs(layout(self.name, layers, config, net, batch, broadcast, chain, feed))

    def largest_batch(
        self,
        config: ChipConfig,
        net: Network,
        rows: int,
        broadcast: str | None = None,
        feed: str = "preload",
        chain: list[Coord] | None = None,
    ) -> int:
        """The most samples, at most ``rows``, whose plan fits every core's SRAM; 0 if not even one does.

        Every buffer grows with the batch, so the batches that fit are the ones below a
        bound, found by bisection on the plan's buffers alone (no programs are built).
        """
        broadcast, chain, layers = self._deal(config, net, broadcast, chain)

        def fits(batch: int) -> bool:
            plan = layout(self.name, layers, config, net, batch, broadcast, chain, feed)
            return fullest_core(plan.buffers)[1] <= config.data_bytes

        high = rows
        if feed == "preload":  # a core with first-layer products holds every sample's inputs
            high = min(rows, config.data_bytes // (net.sizes[0] * ELEMENT_BYTES))
        low = 0
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(middle) else (low, middle - 1)
        return low

    def _deal(
        self, config: ChipConfig, net: Network, broadcast: str | None, chain: list[Coord] | None
    ) -> tuple[str, list[Coord], list[LayerAssignment]]:
        """The broadcast (checked), the chain and every layer's deal of products."""
        broadcast = broadcast or self.default_broadcast
        if broadcast not in BROADCASTS:
            raise MappingError(f"unknown broadcast {broadcast!r}: use one of {', '.join(BROADCASTS)}")
        if not self.supports(broadcast):
            raise MappingError(f"strategy {self.name} does not support broadcast {broadcast!r}")
        chain, layers = self.place(config, net, chain or default_chain(config))
        return broadcast, chain, layers


def all_variants() -> list[tuple[str, str]]:
    """``(strategy, broadcast)`` for every strategy and each broadcast it is compared with."""
    return [(name, bc) for name, cls in STRATEGIES.items() for bc in cls().compared()]
