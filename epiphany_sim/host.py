"""The host (the Parallella's ARM) behind the eLink, and the shared DRAM window it owns.

The host reaches the chip through its library (``e_write`` and ``e_read`` on the
Parallella), whose every access crosses the FPGA's bus bridge on its own: far below the
eLink's byte per cycle. Its writes into a core's SRAM leave one transaction per
``host_sram_write_cycles_per_transaction`` and then travel the eLink and the xMesh; a read
from a core's SRAM pays ``host_sram_read_cycles_per_transaction`` before each load and then
waits for the load's round trip. Its own DRAM window (32 MB at 0x8e000000 on the Parallella),
which cores reach off chip, it writes and reads at ``host_dram_write_cycles_per_transaction``
and ``host_dram_read_cycles_per_transaction`` per transaction, without the eLink.
Every rate is fitted or assumed as ``ChipConfig`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from epiphany_sim.core import Agent, _float32
from epiphany_sim.memory import Memory
from epiphany_sim.mesh import HOST

if TYPE_CHECKING:
    from epiphany_sim.chip import Chip
    from epiphany_sim.fabric import Fabric


class Host(Agent):
    """The host processor. Its ``write`` and ``read`` reach cores over the eLink, and its own DRAM directly."""

    def __init__(self, chip: Chip) -> None:
        super().__init__(chip, HOST, "host")

    def write(
        self,
        dst: tuple,
        buffer: str,
        offset: int,
        values: np.ndarray,
        label: str = "",
        then: Callable[[], object] | None = None,
        copy: bool = True,
    ) -> Generator[simpy.Event, Any, None]:
        """Write ``values`` into a core's SRAM over the eLink (``Agent.write``) or into the DRAM window."""
        if dst != HOST:
            yield from super().write(dst, buffer, offset, values, label, then, copy)
            return
        values = _float32(values)
        target = self._target(HOST, buffer, offset, len(values))
        start = self.env.now
        yield self.env.timeout(self._cycles(values.nbytes, self.chip.config.host_dram_write_cycles_per_transaction))
        target.store(offset, values)
        self._record("send", start, label, values.nbytes)
        if then is not None:
            then()

    def read(
        self, src: tuple, buffer: str, offset: int, n: int, label: str = "", copy: bool = False
    ) -> Generator[simpy.Event, Any, np.ndarray]:
        """Read ``n`` elements from a core's SRAM, a transaction at a time, or from the DRAM window
        (``copy`` changes nothing: the host's cost per transaction is its library's)."""
        config = self.chip.config
        if src == HOST:
            source = self._target(HOST, buffer, offset, n)
            start = self.env.now
            yield self.env.timeout(self._cycles(n * 4, config.host_dram_read_cycles_per_transaction))
            self._record("wait", start, label or f"read {buffer}", n * 4)
            return source.data[offset : offset + n].copy()
        per = config.transaction_bytes // 4
        out = np.empty(n, dtype=np.float32)
        for first in range(0, n, per):
            count = min(per, n - first)
            yield self.env.timeout(config.host_sram_read_cycles_per_transaction)
            out[first : first + count] = yield from super().read(src, buffer, offset + first, count, label)
        return out

    def _cycles(self, n_bytes: int, per_transaction: float) -> float:
        return self.chip.config.transactions(n_bytes) * per_transaction


class ExternalDram(Memory):
    """The shared DRAM window, reached by cores through the eLink."""

    def __init__(self, capacity_bytes: int, base_address: int, fabric: Fabric, base_word: int) -> None:
        super().__init__(f"DRAM window at 0x{base_address:08x}", capacity_bytes, fabric, base_word)
        self.base_address = base_address
