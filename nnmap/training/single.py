"""The ``single`` trainer: plain SGD on one core, the baseline every other trainer is timed against.

It is the partitioned trainer on a chain of one core (``nnmap.session.single_core_chip``:
the chip's clock and costs, one core with room for any network), so the two run the same
arithmetic and differ only in how the work is spread.
"""

from __future__ import annotations

from epiphany_sim.config import ChipConfig
from nnmap.model import Network
from nnmap.session import single_core_chip
from nnmap.training.base import TRAINERS, Hyperparameters
from nnmap.training.datasets import Dataset
from nnmap.training.partitioned import PartitionedBackprop


@TRAINERS.add
class Single(PartitionedBackprop):
    """Plain SGD on one core."""

    name = "single"

    def __init__(self, config: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        super().__init__(single_core_chip(config), net, data, hp)
