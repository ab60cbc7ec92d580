"""A transaction-level discrete-event simulator of the Adapteva Epiphany mesh."""

from epiphany_sim.chip import Chip
from epiphany_sim.config import E16, E64, EPIPHANY_V, PRESETS, ChipConfig, chip_from_name, load_chip
from epiphany_sim.errors import ConfigError, DeadlockError, MemoryAccessError, SimError, SramOverflowError, TrafficError
from epiphany_sim.mesh import HOST, Mesh

__all__ = [
    "E16",
    "E64",
    "EPIPHANY_V",
    "HOST",
    "PRESETS",
    "Chip",
    "ChipConfig",
    "ConfigError",
    "DeadlockError",
    "MemoryAccessError",
    "Mesh",
    "SimError",
    "SramOverflowError",
    "TrafficError",
    "chip_from_name",
    "load_chip",
]
