"""The ``partitioned`` trainer: back-propagation with seed 003's scheme over the whole mesh.

Every core keeps its slice of every layer's weights in its SRAM for the whole run and
updates it in place; the programs are ``BackpropProgram``'s. The host loads the weights
once over the eLink; the dataset stays in the shared DRAM, from which the cores read each
sample's inputs and targets. Samples go in the dataset's order, one SGD step each.
"""

from __future__ import annotations

from epiphany_sim.chip import Chip
from nnmap.model import Network
from nnmap.program import run_ops
from nnmap.training.backprop import T_DRAM, X_DRAM, BackpropProgram
from nnmap.training.base import Meter, Trainer, host_load


class Partitioned(Trainer):
    name = "partitioned"

    def start(self) -> Meter:
        hp, data = self.hp, self.data
        self.program = BackpropProgram(self.chip, self.net, data.n_samples, hp.lr, hp.momentum, hp.loss)
        self.sim = Chip(self.chip)
        for coord, buffers in self.program.plan.buffers.items():
            sram = self.sim.core(coord).sram
            for name, n in buffers.items():
                sram.alloc(name, n)
        for name, n in self.program.dram.items():
            self.sim.dram.alloc(name, n)
        # the dataset is already in the host's memory, which is the DRAM window: no transfer
        self.sim.dram[X_DRAM].store(0, data.x.reshape(-1))
        self.sim.dram[T_DRAM].store(0, data.y.reshape(-1))
        self.sim.process(host_load(self.sim, self.program.plan.setup))
        self.sim.run()
        self.steps = 0
        return Meter.of(self.sim)

    def run_epoch(self, epoch: int) -> Meter:
        rows = range(self.data.n_samples)
        for k, coord in enumerate(self.program.chain):
            ops = [op for i in rows for op in self.program.step_ops(k, self.steps + i, i)]
            self.sim.process(run_ops(self.sim.core(coord), ops, self.program.relays))
        self.steps += len(rows)
        self.sim.run()
        return Meter.of(self.sim)

    def network(self) -> Network:
        return self.program.read_network(self.sim)
