"""The ``partitioned`` trainer: back-propagation with seed 003's scheme over the whole mesh.

Every core keeps its slice of every layer's weights in its SRAM for the whole run and
updates it in place; the programs are ``BackpropProgram``'s. The host loads the weights
once over the eLink, then each sample as its step comes (``nnmap.training.feed.HostFeed``).
Samples go in the dataset's order, one SGD step each.
"""

from __future__ import annotations

from typing import ClassVar

from epiphany_sim.chip import Chip
from epiphany_sim.config import ChipConfig
from nnmap.model import Network
from nnmap.program import register_relays, run_ops
from nnmap.training.backprop import BackpropProgram
from nnmap.training.base import Hyperparameters, Meter, Trainer, check_fits, host_load
from nnmap.training.datasets import Dataset


class Partitioned(Trainer):
    name = "partitioned"
    feed: ClassVar[str] = "host"
    """How samples reach the cores (``nnmap.training.feed.FEEDS``)."""

    def __init__(self, chip: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        super().__init__(chip, net, data, hp)
        self.program = BackpropProgram(self.chip, net, data.n_samples, hp.lr, hp.momentum, hp.loss, feed=self.feed)
        check_fits(self.chip, net, self.program.plan.buffers,
                   "use a chip with more cores or SRAM (e64: 64 cores, epiphany-v: 1024 cores of 64 KB) "
                   "or a smaller network (--layers)")

    def start(self) -> Meter:
        data = self.data
        self.sim = Chip(self.chip)
        for coord, buffers in self.program.plan.buffers.items():
            sram = self.sim.core(coord).sram
            for name, n in buffers.items():
                sram.alloc(name, n)
        for name, n in self.program.dram.items():
            self.sim.dram.alloc(name, n)
        register_relays(self.sim, self.program.relays)
        self.program.load_dram(self.sim, data.x, data.y)
        self.sim.process(host_load(self.sim, self.program.plan.setup))
        self.sim.run()
        self.steps = 0
        return Meter.of(self.sim)

    def run_epoch(self, epoch: int) -> Meter:
        rows = list(range(self.data.n_samples))
        for k, coord in enumerate(self.program.chain):
            ops = self.program.epoch_ops(k, self.steps, rows)
            self.sim.process(run_ops(self.sim.core(coord), ops))
        feeding = self.program.host_process(self.sim, self.steps, rows, self.data.x, self.data.y)
        if feeding is not None:
            self.sim.process(feeding)
        self.steps += len(rows)
        self.sim.run()
        return Meter.of(self.sim)

    def network(self) -> Network:
        return self.program.read_network(self.sim)
