"""Per-neuron workers: the host hands every neuron activation to a core.

The finest grain of parallel training: each neuron of a layer computed by its own worker,
which is what running one Web Worker per neuron in a browser does, and which can be many
times slower than serial because the messages cost more than the arithmetic they spread.
Here the host (the Parallella's ARM) runs the training loop and keeps the network. For
every sample and every layer it sends each neuron a job over the eLink, the neuron
serialised with its connections: the layer's inputs, the neuron's weights and its bias. That is one message
in. The core computes the activation and writes it into the host's DRAM: one message out.
Neuron ``j`` of a layer goes to core ``j mod C``, and the host waits for all of a layer's
activations before it starts the next layer.

Back-propagation and the weight updates (plain SGD or with momentum) run on the host,
serially, on the host. The host is charged what the cores' kernels
cost for the same arithmetic (``nnmap.programs.backprop``' cost functions), so the
comparison with the ``single`` trainer isolates the cost of handing activations out. Samples go in the
dataset's order, one SGD step each: the weights are the same as ``single``'s.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import HOST, Coord, Mesh
from nnmap.buffers import ACTIVATIONS, job
from nnmap.loss import derivative, output_error
from nnmap.model import Layer, Network
from nnmap.programs import Op, Wait
from nnmap.programs.backprop import axpy_cycles, descend_cycles, hidden_error_cycles, output_error_cycles
from nnmap.programs.exchange import Neuron
from nnmap.segments import Backward, Forward
from nnmap.session import Meter, Session
from nnmap.training.base import TRAINERS, Hyperparameters, Trainer, bigger_chip_hint, check_fits
from nnmap.training.datasets import Dataset

F32 = np.float32


@TRAINERS.add
class PerNeuron(Trainer):
    """One message in and one out per neuron activation, between the host and the cores."""

    name = "per-neuron"

    def __init__(self, config: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        super().__init__(config, net, data, hp)
        self.cores = Mesh(config).neighbour_chain()
        self.buffers: dict[Coord, dict[str, int]] = {}
        for li, layer in enumerate(net.layers):
            for j in range(layer.n_out):
                self.buffers.setdefault(self.owner(j), {})[job(li, j)] = 2 * layer.n_in + 1
        check_fits(
            config,
            net,
            self.buffers,
            f"every core keeps a job buffer per neuron it computes: {bigger_chip_hint(config)}",
        )
        self.layers = [[layer.weights.copy(), layer.bias.copy()] for layer in net.layers]
        self.velocity = [[np.zeros_like(w), np.zeros_like(b)] for w, b in self.layers]
        self.messages = 0

    def owner(self, j: int) -> Coord:
        return self.cores[j % len(self.cores)]

    def start(self, load: str | None = None) -> Meter:
        self.session = Session(
            self.config, self.buffers, {ACTIVATIONS: sum(layer.n_out for layer in self.net.layers)}, load=load
        )
        self.chip = self.session.chip
        self.samples = 0
        return self.session.meter()

    def run_epoch(self, epoch: int) -> Meter:
        n = self.data.n_samples
        first = self.samples
        for li, layer in enumerate(self.net.layers):
            for j in range(layer.n_out):
                self.session.process(self.session.program(self.owner(j), self._worker(li, j, first, n)))
        self.chip.process(self._host(first, n))
        self.samples += n
        self.session.run()
        return self.session.meter()

    def _worker(self, li: int, j: int, first: int, n: int) -> list[Op]:
        """Neuron ``j`` of layer ``li``: ``n`` jobs, each answered into the host's DRAM.

        A core runs one such program per neuron it owns, side by side.
        """
        layer = self.net.layers[li]
        size = 2 * layer.n_in + 1
        offset = sum(lay.n_out for lay in self.net.layers[:li]) + j
        neuron = Neuron(
            job(li, j),
            layer.n_in,
            layer.activation,
            HOST,
            ACTIVATIONS,
            offset,
            f"neuron {li}.{j}",
            f"activation {li}.{j}",
        )
        ops: list[Op] = []
        for s in range(first, first + n):
            ops += [Wait(job(li, j), (s + 1) * size, f"wait job {li}.{j}"), neuron]
        return ops

    def _host(self, first: int, n: int) -> Generator[simpy.Event, Any, None]:
        host = self.chip.host
        acts = self.chip.dram[ACTIVATIONS]
        total = acts.data.size
        for s in range(first, first + n):
            row = s - first
            hs = [self.data.x[row].astype(F32)]
            offset = 0
            for li, (w, b) in enumerate(self.layers):
                host.segment = Forward(li)
                for j in range(w.shape[1]):
                    message = np.concatenate([hs[-1], w[:, j], b[j : j + 1]]).astype(F32)
                    yield from host.write(self.owner(j), job(li, j), 0, message, f"job {li}.{j}")
                    self.messages += 1
                yield from host.wait(ACTIVATIONS, s * total + offset + w.shape[1], f"wait layer {li}")
                self.messages += w.shape[1]
                hs.append(acts.data[offset : offset + w.shape[1]].copy())
                offset += w.shape[1]
            host.segment = Backward()
            yield from host.compute(self._backward(hs, self.data.y[row]), "back-propagation")

    def _backward(self, hs: list[np.ndarray], t: np.ndarray) -> float:
        """One SGD step on the host from the activations ``hs``; returns its cycles."""
        cfg, hp = self.config, self.hp
        lr = F32(hp.lr)
        net = self.net
        last = net.layers[-1]
        delta = output_error(hp.loss, last.activation, hs[-1], t)
        cycles = last.n_out * output_error_cycles(cfg, hp.loss)
        for li in range(len(self.layers) - 1, -1, -1):
            w, b = self.layers[li]
            n_in, n_out = w.shape
            below = None
            if li > 0:  # the error of the layer below, with the weights before this step
                below = (w @ delta).astype(F32) * derivative(net.layers[li - 1].activation, hs[li])
                cycles += n_out * axpy_cycles(cfg, n_in) + hidden_error_cycles(cfg, n_in)
            for param, velocity, step in (
                (w, self.velocity[li][0], np.outer(hs[li], lr * delta)),
                (b, self.velocity[li][1], lr * delta),
            ):
                if hp.momentum:  # v = momentum v - lr g; p += v
                    velocity[...] = (F32(hp.momentum) * velocity - step.astype(F32)).astype(F32)
                    param += velocity
                else:
                    param -= step.astype(F32)
            momentum = bool(hp.momentum)  # per output: its weights' step and its bias's
            cycles += n_out * (descend_cycles(cfg, n_in, momentum) + descend_cycles(cfg, 1, momentum))
            if below is not None:
                delta = below.astype(F32)
        return cycles

    def network(self) -> Network:
        return Network(
            tuple(
                Layer(w.copy(), b.copy(), layer.activation)
                for (w, b), layer in zip(self.layers, self.net.layers, strict=True)
            )
        )
