"""The whole chip on one simpy environment: mesh, network, cores, host and DRAM."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from epiphany_sim.config import ChipConfig
from epiphany_sim.core import Core
from epiphany_sim.errors import DeadlockError
from epiphany_sim.host import ExternalDram, Host
from epiphany_sim.memory import Memory
from epiphany_sim.mesh import HOST, Coord, Mesh
from epiphany_sim.network import Network


class Chip:
    """A simulated Epiphany chip.

    Args:
        config: the hardware.
        trace: keep every transfer with its per-link spans (for traces and plots).

    Example:
        >>> chip = Chip(E16)
        >>> chip.cores[1].sram.alloc("x", 4)
        >>> chip.process(chip.cores[0].write((0, 1), "x", 0, [1, 2, 3, 4]))
        >>> chip.run()
    """

    def __init__(self, config: ChipConfig, trace: bool = False) -> None:
        self.config = config
        self.env = simpy.Environment()
        self.mesh = Mesh(config)
        self.network = Network(self.env, config, self.mesh, trace=trace)
        self.cores = [Core(self, self.mesh.coord_of(i)) for i in range(config.n_cores)]
        self.host = Host(self)
        self.dram = ExternalDram(config.dram_bytes, config.dram_base_address)
        self.pending_waits: dict[int, Callable[[], str]] = {}
        # Every delivered message looks up its core and memory: index them by node once.
        self._core_at: dict[tuple, Core] = {core.coord: core for core in self.cores}
        self._memory_at: dict[tuple, Memory] = {core.coord: core.sram for core in self.cores}
        self._memory_at[HOST] = self.dram

    def core(self, coord: Coord) -> Core:
        try:
            return self._core_at[coord]
        except (KeyError, TypeError):  # outside the mesh, or not a tuple: index_of says which
            return self.cores[self.mesh.index_of(coord)]

    def memory_at(self, node: tuple) -> Memory:
        """The memory behind a node: a core's SRAM, or the DRAM for ``HOST``."""
        try:
            return self._memory_at[node]
        except (KeyError, TypeError):
            if node == HOST:
                return self.dram
            return self.core(node).sram  # type: ignore[arg-type]

    def process(self, generator: Generator[simpy.Event, Any, Any]) -> simpy.Process:
        return self.env.process(generator)

    def run(self, until: float | None = None) -> float:
        """Run until ``until`` or until no event is left; return the final cycle.

        Raises:
            DeadlockError: no event is left while processes still wait for data; the
                message lists each waiting core and what it waits for.
        """
        self.env.run(until=until)
        if until is None and self.pending_waits:
            raise DeadlockError([describe() for describe in self.pending_waits.values()])
        return self.env.now
