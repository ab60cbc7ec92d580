"""The one road from per-core programs to the simulated chip, for inference and training alike.

A ``Session`` is a simulated chip with a mapping's buffers on it, and these steps:

1. allocate: every core's SRAM buffers and the host's DRAM buffers (``Session(...)``);
2. load: the host puts the parameters, then the inputs, into the cores (``load``), along one
   of ``LOADS``: ``host``, writing each core's SRAM through its library over the eLink, or
   ``dram``, writing each distinct array into its DRAM window once, after which every core
   fetches its own with one chain of DMA reads (as careful Parallella programs do);
3. run: each core runs its op list (``program``, ``start``), the core relaying what
   the relay rules say (``Relay``, registered with the chip, whose fabric forwards each
   message that lands in a relayed buffer);
4. read back: the cores' readback programs write outputs into the host's DRAM, where
   ``chip.dram`` holds them;
5. count: simulated time and the bytes moved on and off chip (``meter``, ``link_counts``,
   ``traffic``).

Before anything is allocated, the session refuses a layout on a core the chip avoids
(``nnmap.capacity.check_usable``); whether a layout fits the SRAM is checked before it
becomes a session (``nnmap.capacity``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from epiphany_sim import progress
from epiphany_sim.chip import Chip
from epiphany_sim.config import CEILINGS, ChipConfig
from epiphany_sim.dma import Descriptor
from epiphany_sim.errors import SimError
from epiphany_sim.memory import aligned_bytes
from epiphany_sim.mesh import HOST, INJECT_KINDS, MESH_KINDS, Coord
from epiphany_sim.stats import off_chip_bytes, on_chip_bytes
from nnmap.capacity import check_usable
from nnmap.programs import Dma, Op, Relay, engine, run_ops

LOADS = {
    "host": "the host writes each core's SRAM through its library, over the eLink",
    "dram": "the host writes everything into its DRAM window once; each core fetches its part by DMA",
}
"""The ways the host loads a mapping's initial values, by name."""

LinkCounts = list[tuple[int, float, float]]
"""Per link of the chip, in the mesh's order: bytes, busy cycles and wait cycles so far."""


@dataclass(frozen=True)
class Meter:
    """Simulated totals since the session began: time and bytes moved."""

    cycles: float = 0.0
    bytes_on_chip: int = 0
    bytes_off_chip: int = 0


def faster_load(config: ChipConfig) -> str:
    """The one of ``LOADS`` that moves a transaction sooner on ``config``, by its rates.

    ``host`` costs ``host_sram_write_cycles_per_transaction``; ``dram`` costs the host's
    ``host_dram_write_cycles_per_transaction`` and then the cores' DMA reads, which all share
    the eLink's read-request path, ``elink_read_cycles_per_request`` each. On every preset
    (313 against 45.5 + 14 cycles) it is ``dram``.
    """
    through_dram = config.host_dram_write_cycles_per_transaction + config.elink_read_cycles_per_request
    return "dram" if through_dram < config.host_sram_write_cycles_per_transaction else "host"


def single_core_chip(config: ChipConfig) -> ChipConfig:
    """One core of ``config`` with SRAM room for any network: the baseline of ``speedup``.

    Capacity does not change timing, so the baseline measures the serial compute alone.
    """
    room = CEILINGS["sram_bytes"] // config.sram_banks * config.sram_banks  # the most SRAM a core may have
    return config.replace(name=f"{config.name}-1core", rows=1, cols=1, sram_bytes=room, avoid_cores=())


def _staged(values: Mapping[Coord, Mapping[str, np.ndarray]]) -> dict[bytes, np.ndarray]:
    """The distinct non-empty arrays of ``values`` by content, in the order they first appear."""
    staged: dict[bytes, np.ndarray] = {}
    for named in values.values():
        for array in named.values():
            flat = np.asarray(array, np.float32).reshape(-1)
            if len(flat):
                staged.setdefault(flat.tobytes(), flat)
    return staged


class Session:
    """A simulated chip with a mapping's buffers allocated, ready to load and run programs.

    Args:
        config: the chip.
        layout: per core, its SRAM buffers (name to float32 elements), allocated in this order.
        dram: the host DRAM's buffers (name to elements).
        relays: per core, the forwarding rules the core runs.
        trace: keep every transfer (for traces and link plots).
        load: how ``load`` brings the initial values, one of ``LOADS`` (default: ``faster_load``).
    """

    def __init__(
        self,
        config: ChipConfig,
        layout: dict[Coord, dict[str, int]],
        dram: dict[str, int] | None = None,
        relays: Mapping[Coord, Sequence[Relay]] | None = None,
        trace: bool = False,
        load: str | None = None,
    ) -> None:
        if load is not None and load not in LOADS:
            raise SimError(f"unknown load {load!r}: use one of {', '.join(LOADS)}")
        self.load_path = load or faster_load(config)
        self._load_chosen = load is None
        check_usable(config, [*layout, *(relays or {})], SimError)
        self.chip = Chip(config, trace=trace)
        for coord, named in layout.items():
            sram = self.chip.core(coord).sram
            for name, n in named.items():
                sram.alloc(name, n)
        for name, n in (dram or {}).items():
            self.chip.dram.alloc(name, n)
        for coord, rules in (relays or {}).items():
            for rule in rules:
                self.chip.add_relay(coord, rule.buffer, rule.src, rule.dst)

    @property
    def now(self) -> float:
        return self.chip.env.now

    def load(
        self,
        parameters: Mapping[Coord, Mapping[str, np.ndarray]],
        inputs: Mapping[Coord, Mapping[str, np.ndarray]] | None = None,
    ) -> Generator[simpy.Event, Any, float]:
        """Put ``parameters[coord][buffer]`` into each core along ``load_path``, then
        ``inputs[coord][buffer]`` likewise; ends once all have arrived.

        Returns the cycle at which the last parameter landed (the current cycle if there are
        none): from then on the weights are resident, and what follows is a sample's own.
        """
        host = self.chip.host
        host.segment = "setup"
        if self.load_path == "dram":
            staged = [_staged(parameters), _staged(inputs or {})]
            if not self._fits_dram(staged):
                self.load_path = "host"
        if self.load_path == "dram":
            yield from self._through_dram(parameters, staged[0], "parameters")
            parameters_end = self.now
            yield from self._through_dram(inputs or {}, staged[1], "inputs")
            return parameters_end
        writes = [
            (coord, name, values, f"load {name} {coord}")
            for named in (parameters, inputs or {})
            for coord, buffers in named.items()
            for name, values in buffers.items()
        ]
        n_parameters = sum(len(buffers) for buffers in parameters.values())
        parameters_end = self.now

        def landed(i: int) -> None:
            nonlocal parameters_end
            if i < n_parameters:
                parameters_end = max(parameters_end, self.now)

        yield from host.write_all(writes, landed)
        return parameters_end

    def _fits_dram(self, staged: list[dict[bytes, np.ndarray]]) -> bool:
        """Whether the arrays the ``dram`` load stages fit the host's DRAM window. If they do not,
        a load the caller asked for is refused; the default one falls back to ``host``."""
        need = sum(aligned_bytes(flat.nbytes) for arrays in staged for flat in arrays.values())
        free = self.chip.dram.free_bytes
        if need <= free or self._load_chosen:
            return need <= free
        raise SimError(
            f"the dram load stages {need:,} bytes in the host's DRAM window, which has {free:,} free: "
            "load through the host instead (load 'host')"
        )

    def _through_dram(
        self, values: Mapping[Coord, Mapping[str, np.ndarray]], staged: dict[bytes, np.ndarray], what: str
    ) -> Generator[simpy.Event, Any, None]:
        """The host writes each distinct array of ``values`` (``staged``, by content: the inputs
        that every core of a layer holds, say) into its DRAM window once; then every core runs a
        program that fetches its own with one chain of DMA reads (``Dma``)."""
        host = self.chip.host
        names: dict[bytes, str] = {}
        for key, flat in staged.items():
            names[key] = f"{what} {len(names)}"
            self.chip.dram.alloc(names[key], len(flat))
            yield from host.write(HOST, names[key], 0, flat, f"load {what} into DRAM")
        chains: dict[Coord, list[Descriptor]] = {}
        for coord, named in values.items():
            for name, array in named.items():
                flat = np.asarray(array, np.float32).reshape(-1)
                if len(flat):
                    chains.setdefault(coord, []).append(Descriptor(HOST, names[flat.tobytes()], coord, name, len(flat)))
        fetches = []  # each core fetches its own and polls until it is done
        for coord, chain in chains.items():
            self.chip.core(coord).segment = "setup"
            fetches.append(
                self.chip.process(self.program(coord, [Dma(tuple(chain), f"fetch the {what}", f"wait for the {what}")]))
            )
        yield simpy.AllOf(self.chip.env, fetches)

    def program(self, coord: Coord, ops: Iterable[Op]) -> Generator[simpy.Event, Any, None]:
        """The process that runs ``ops`` on core ``coord``."""
        check_usable(self.chip.config, [coord], SimError)
        return run_ops(self.chip.core(coord), ops)

    def start(self, programs: Mapping[Coord, Iterable[Op]], bar: progress.Bar | None = None) -> simpy.Event:
        """Start every core's program at once, in compiled code where they allow it
        (``nnmap.programs.engine``); the event is triggered once all have ended. ``bar``, if given,
        counts the ops done."""
        check_usable(self.chip.config, list(programs), SimError)
        return engine.start(self.chip, programs, bar)

    def run_all(
        self, programs: Mapping[Coord, Iterable[Op]], bar: progress.Bar | None = None
    ) -> Generator[simpy.Event, Any, None]:
        """``start`` the programs and wait until all have ended (a process's generator)."""
        yield self.start(programs, bar)

    def process(self, generator: Generator[simpy.Event, Any, Any]) -> simpy.Process:
        return self.chip.process(generator)

    def run(self) -> float:
        """Simulate until nothing is left to do; return the cycle reached."""
        return self.chip.run()

    def meter(self) -> Meter:
        """The totals so far: the clock, bytes the cores injected into the meshes, bytes over the eLink."""
        return Meter(self.now, on_chip_bytes(self.chip.fabric), off_chip_bytes(self.chip.fabric))

    def messages(self) -> int:
        """Messages sent so far, relays included."""
        return self.chip.fabric.messages_sent

    def link_counts(self) -> LinkCounts:
        return [(link.bytes, link.busy_cycles, link.wait_cycles) for link in self.chip.fabric.links]

    def traffic(self, before: LinkCounts, after: LinkCounts, cycles: float) -> tuple[float, int, int]:
        """Between two ``link_counts``: the busiest mesh link's utilisation, on-chip and off-chip bytes."""
        util = 0.0
        on_chip = off_chip = 0
        for link, (b0, busy0, _), (b1, busy1, _) in zip(self.chip.fabric.links, before, after, strict=True):
            if link.kind in MESH_KINDS and cycles > 0:
                util = max(util, (busy1 - busy0) / cycles)
            if link.kind.startswith("elink"):
                off_chip += b1 - b0
            elif link.kind in INJECT_KINDS:
                on_chip += b1 - b0
        return util, on_chip, off_chip
