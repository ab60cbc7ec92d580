"""The host (the Parallella's ARM) behind the eLink, and the shared DRAM window it owns.

The host writes into core SRAM through the eLink, one byte per cycle
per direction (``ChipConfig.elink_bytes_per_cycle``), 8x slower than a cMesh link. Its
DRAM window (32 MB at 0x8e000000 on the Parallella) is what cores reach off-chip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from epiphany_sim.core import Agent
from epiphany_sim.memory import Memory
from epiphany_sim.mesh import HOST

if TYPE_CHECKING:
    from epiphany_sim.chip import Chip
    from epiphany_sim.fabric import Fabric


class Host(Agent):
    """The host processor. Its ``write`` and ``read`` reach cores over the eLink."""

    def __init__(self, chip: Chip) -> None:
        super().__init__(chip, HOST, "host")


class ExternalDram(Memory):
    """The shared DRAM window, reached by cores through the eLink."""

    def __init__(self, capacity_bytes: int, base_address: int, fabric: Fabric, base_word: int) -> None:
        super().__init__(f"DRAM window at 0x{base_address:08x}", capacity_bytes, fabric, base_word)
        self.base_address = base_address
