"""The whole chip on one timeline: mesh, fabric, cores, host and DRAM."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, cast

import simpy

from epiphany_sim.clock import FabricEnvironment
from epiphany_sim.config import ChipConfig
from epiphany_sim.core import Core
from epiphany_sim.errors import DeadlockError
from epiphany_sim.fabric import LOAD_WORDS, Fabric, TraceOptions
from epiphany_sim.garbage_collector import fewer_collections
from epiphany_sim.host import ExternalDram, Host
from epiphany_sim.memory import WORD_BYTES, Memory
from epiphany_sim.mesh import HOST, Coord, Mesh


class Chip:
    """A simulated Epiphany chip.

    Args:
        config: the hardware.
        trace: keep a ``Transfer`` per message and what ``TraceOptions`` asks of the links'
            activity (``True``: every transaction on every link) for traces and plots.
        record: keep a ``Transfer`` per message (without link activity).

    Example:
        >>> chip = Chip(E16)
        >>> chip.cores[1].sram.alloc("x", 4)
        >>> chip.process(chip.cores[0].write((0, 1), "x", 0, [1, 2, 3, 4]))
        >>> chip.run()
    """

    def __init__(self, config: ChipConfig, trace: bool | TraceOptions = False, record: bool = False) -> None:
        self.config = config
        self.mesh = Mesh(config)
        sram_words = config.sram_bytes // WORD_BYTES
        options = TraceOptions() if trace is True else (trace or None)
        self.fabric = Fabric(
            config,
            self.mesh,
            config.n_cores * sram_words + config.dram_bytes // WORD_BYTES + (config.n_cores + 1) * LOAD_WORDS,
            record=record,
            trace=options,
        )
        self.env = FabricEnvironment(self.fabric)
        self.cores = [Core(self, self.mesh.coord_of(i)) for i in range(config.n_cores)]
        self.host = Host(self)
        self.dram = ExternalDram(config.dram_bytes, config.dram_base_address, self.fabric, config.n_cores * sram_words)
        self.pending_waits: dict[int, Callable[[], list[str]]] = {}
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
            return self.core(cast(Coord, node)).sram

    def add_relay(self, node: Coord, buffer: str, src: Coord, dst: Coord) -> None:
        """Have ``node`` store onward to ``dst`` every message from ``src`` that lands in
        its ``buffer``, to the same place of ``dst``'s buffer of that name (both must exist)."""
        fabric = self.fabric
        fabric.add_relay(
            fabric.endpoint(node),
            self.memory_at(node)[buffer].id,
            fabric.endpoint(src),
            fabric.endpoint(dst),
            self.memory_at(dst)[buffer].id,
        )

    def process(self, generator: Generator[simpy.Event, Any, Any]) -> simpy.Process:
        return self.env.process(generator)

    def run(self, until: float | None = None) -> float:
        """Run until ``until`` or until no event is left; return the final cycle.

        Raises:
            DeadlockError: no event is left while processes still wait for data; the
                message lists each waiting core and what it waits for.
        """
        with fewer_collections():
            self.env.run(until=until)
        if until is None:
            waiting = [line for describe in self.pending_waits.values() for line in describe()]
            if self.env.guest is not None:
                self.env.guest.stop()
            if waiting:
                raise DeadlockError(waiting)
        return self.env.now
