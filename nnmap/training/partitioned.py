"""The ``partitioned`` trainer: back-propagation with the partitioned scheme over the whole mesh.

Every core keeps its slice of every layer's weights in its SRAM for the whole run and
updates it in place; the programs are ``BackpropProgram``'s. The host loads the weights
once over the eLink, then each sample as its step comes (``nnmap.training.feed.HostFeed``).
Samples go in the dataset's order, one SGD step each.
"""

from __future__ import annotations

from typing import ClassVar

from epiphany_sim.config import ChipConfig
from nnmap.model import Network
from nnmap.session import Meter, Session
from nnmap.strategies import get_strategy
from nnmap.training.backprop import BackpropProgram
from nnmap.training.base import TRAINERS, Hyperparameters, Trainer, bigger_chip_hint, check_fits
from nnmap.training.datasets import Dataset


@TRAINERS.add
class PartitionedBackprop(Trainer):
    """Back-propagation on the partitioned scheme's chain of every core."""

    name = "partitioned"
    feed: ClassVar[str] = "host"
    """How samples reach the cores (``nnmap.training.feed.SAMPLE_FEEDS``)."""
    strategy: ClassVar[str] = "partitioned"
    """How the layers are dealt to the cores (a ``nnmap.strategies`` name)."""

    def __init__(self, config: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        super().__init__(config, net, data, hp)
        self.program = BackpropProgram(
            self.config,
            net,
            data.n_samples,
            hp.lr,
            hp.momentum,
            hp.loss,
            feed=self.feed,
            strategy=get_strategy(self.strategy),
        )
        check_fits(self.config, net, self.program.plan.buffers, bigger_chip_hint(self.config))

    def start(self, load: str | None = None) -> Meter:
        program = self.program
        self.session = Session(self.config, program.plan.buffers, program.dram, program.relays, load=load)
        program.load_dram(self.session.chip, self.data.x, self.data.y)
        self.session.process(self.session.load(program.plan.setup))
        self.session.run()
        self.steps = 0
        return self.session.meter()

    def run_epoch(self, epoch: int) -> Meter:
        rows = list(range(self.data.n_samples))
        program = self.program
        self.session.start({coord: program.epoch_ops(k, self.steps, rows) for k, coord in enumerate(program.chain)})
        feeding = program.host_process(self.session.chip, self.steps, rows, self.data.x, self.data.y)
        if feeding is not None:
            self.session.process(feeding)
        self.steps += len(rows)
        self.session.run()
        return self.session.meter()

    def network(self) -> Network:
        return self.program.read_network(self.session.chip)
