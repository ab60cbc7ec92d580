"""A fast estimate of a mapping's cycles per phase, from the plan and the chip's cost fields, without simulating.

The formulas (``docs/tune.md`` writes them out) price what the plan says each party does,
with the rates the simulator charges (``ChipConfig``; kernels by ``epiphany_sim.costs``):

- setup, loading through the DRAM (``dram``): the host writes each distinct array once,
  ``T(a) * host_dram_write_cycles_per_transaction`` (``T(a)``: its transactions of
  ``transaction_bytes``); then every core fetches its arrays with one chain of DMA reads,
  and all the read requests share the eLink's read path: ``R * elink_read_cycles_per_request``
  for ``R`` requests in all, or, if longer, the core with the most requests at one per
  ``read_interval`` (a DMA channel keeps ``dma_outstanding_reads`` in flight); plus one
  ``dma_setup_cycles``, one ``dram_latency_cycles`` and one ``poll_cycles``. The parameters
  go first, then the inputs, the same way.
- setup through the host library (``host``): every array of every core, one transaction per
  ``host_sram_write_cycles_per_transaction``.
- compute: the busiest core's own work (its kernels, the transactions it copies into
  messages at ``copy_cycles_per_transaction`` each, its reads of the DRAM), or, if longer,
  the read requests of every core in the phase over the one eLink read path, or, with the
  ``host`` feed, the host's writes of every sample's inputs and one sample's share of the
  busiest core's work; plus, per
  sample and layer, the hops a value crosses along the chain at ``hop_latency_cycles``
  each.
- readback: the owners' outputs leave over the eLink's write path, a whole packet each
  (``elink_write_packet_cycles``: several cores take turns), then the host reads them
  from its DRAM (``host_dram_read_cycles_per_transaction``).
- per sample: everything after the parameters landed, shared over the batch.

What it leaves out: waiting for values from other cores beyond the hop latency (a strategy
whose cores wait on each other in turn, as ``oneway`` does, is underestimated), the relays
that cores run for others, and contention on mesh links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from epiphany_sim import costs
from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import HOST, Coord
from nnmap.lowering.feed import make_feed
from nnmap.plan import ELEMENT_BYTES, Plan
from nnmap.programs import Activate, Fill, Mac, Op, PollDram, ReadDram, Send, Signal, SparseMac, Sum

Arrays = Mapping[Coord, Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Estimate:
    """A candidate's estimated cycles per phase, and when its parameters have landed."""

    setup: float
    compute: float
    readback: float
    parameters: float
    batch: int

    @property
    def total(self) -> float:
        return self.setup + self.compute + self.readback

    @property
    def per_sample(self) -> float:
        """``(total - parameters) / batch``, as ``nnmap.analysis.per_sample_cycles`` reports it."""
        return (self.total - self.parameters) / self.batch

    def figures(self) -> dict[str, float]:
        """The estimate under the names of a run's figures (``setup_cycles``, ...)."""
        return {
            "setup_cycles": self.setup,
            "compute_cycles": self.compute,
            "readback_cycles": self.readback,
            "total_cycles": self.total,
            "per_sample_cycles": self.per_sample,
        }


def transactions(config: ChipConfig, n_values: int) -> int:
    """Transactions of ``transaction_bytes`` that ``n_values`` float32 values take (none for none)."""
    return config.transactions(n_values * ELEMENT_BYTES) if n_values else 0


def _arrays(values: Arrays) -> Iterable[np.ndarray]:
    return (np.asarray(a, np.float32).reshape(-1) for named in values.values() for a in named.values())


def read_interval(config: ChipConfig) -> float:
    """Cycles between one core's DMA read requests when nothing else is in the way: a channel keeps
    ``dma_outstanding_reads`` in flight, and each waits out a round trip (the request's crossing,
    the DRAM's latency, the reply's crossing as a whole packet)."""
    trip = config.elink_read_cycles_per_request + config.dram_latency_cycles + config.elink_write_packet_cycles
    return trip / config.dma_outstanding_reads


def through_dram_cycles(config: ChipConfig, values: Arrays) -> float:
    """The host writes each distinct array of ``values`` into its DRAM once; then every core's DMA read
    requests cross the one eLink read path in turn."""
    arrays = [a for a in _arrays(values) if len(a)]
    if not arrays:
        return 0.0
    distinct = {a.tobytes(): len(a) for a in arrays}
    write = sum(transactions(config, n) for n in distinct.values()) * config.host_dram_write_cycles_per_transaction
    per_core = [sum(transactions(config, len(a)) for a in _arrays({c: named})) for c, named in values.items()]
    fetch = max(sum(per_core) * config.elink_read_cycles_per_request, max(per_core) * read_interval(config))
    return write + config.dma_setup_cycles + config.dram_latency_cycles + fetch + config.poll_cycles


def through_host_cycles(config: ChipConfig, values: Arrays) -> float:
    """The host writes every array of ``values`` into its core's SRAM through its library."""
    return sum(transactions(config, len(a)) for a in _arrays(values)) * config.host_sram_write_cycles_per_transaction


LOAD_CYCLES: dict[str, Callable[[ChipConfig, Arrays], float]] = {
    "dram": through_dram_cycles,
    "host": through_host_cycles,
}
"""The setup's formula of each load path (``nnmap.session.LOADS``)."""


def _kernel_cycles(config: ChipConfig, op: Op) -> float:
    """A compute op's cycles on its core (``epiphany_sim.costs``, as ``nnmap.programs.run_ops`` charges them)."""
    if isinstance(op, Mac):
        return costs.dot_cycles(config, op.n, op.x_stride != 1)
    if isinstance(op, SparseMac):
        return costs.sparse_dot_cycles(config, op.n)
    if isinstance(op, Sum):
        return costs.sum_cycles(config, op.n)
    if isinstance(op, Activate):
        return costs.activation_cycles(config)
    if isinstance(op, Fill):
        return costs.fill_cycles(config, op.n)
    return 0.0


def _op_cycles(config: ChipConfig, op: Op) -> tuple[float, int]:
    """An op's cycles on its core and the eLink read requests it makes."""
    if isinstance(op, Send):
        return transactions(config, op.n) * config.copy_cycles_per_transaction, 0
    if isinstance(op, Signal):
        return 1.0, 0
    if isinstance(op, (ReadDram, PollDram)):
        n = transactions(config, op.n)
        return config.dram_latency_cycles + n * config.elink_read_cycles_per_request, n
    return _kernel_cycles(config, op), 0


def chain_hops(chain: list[Coord]) -> int:
    """Router hops from each core of ``chain`` to the next, summed (a value handed along the whole chain)."""
    return sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(chain, chain[1:], strict=False))


def compute_cycles(plan: Plan) -> float:
    """The busiest core's work, or the phase's eLink read requests if longer; plus the hops of the hand-offs."""
    config = plan.config
    busiest, requests = 0.0, 0
    for coord in plan.chain:
        own = 0.0
        for op in plan.ops[coord]:
            cycles, reads = _op_cycles(config, op)
            own += cycles
            requests += reads
        busiest = max(busiest, own)
    latency = plan.batch * len(plan.layers) * chain_hops(plan.chain) * config.hop_latency_cycles
    fed = feed_cycles(plan) + busiest / plan.batch if feed_cycles(plan) else 0.0
    return max(busiest, requests * config.elink_read_cycles_per_request, fed) + latency


def feed_cycles(plan: Plan) -> float:
    """The host's writes of every sample's inputs during the compute phase (the ``host`` feed), else 0."""
    if plan.feed == "preload":
        return 0.0
    config = plan.config
    return plan.batch * transactions(config, plan.net.sizes[0]) * config.host_sram_write_cycles_per_transaction


def readback_cycles(plan: Plan) -> float:
    """The owners' outputs over the eLink's write path, then the host's read of them from the DRAM."""
    config = plan.config
    sends = [op for ops in plan.readback.values() for op in ops if isinstance(op, Send) and op.dst == HOST]
    out = sum(transactions(config, op.n) for op in sends) * config.elink_write_packet_cycles
    n_outputs = plan.batch * plan.net.sizes[-1]
    host_read = transactions(config, n_outputs) * config.host_dram_read_cycles_per_transaction
    return out + config.dram_latency_cycles + host_read


def estimate(plan: Plan, x: np.ndarray, load: str) -> Estimate:
    """The estimated cycles of running ``plan`` on inputs ``x``, loading along ``load``."""
    load_cycles = LOAD_CYCLES[load]
    feed = make_feed(plan)
    parameters = load_cycles(plan.config, {c: plan.setup[c] for c in plan.chain})
    inputs = load_cycles(plan.config, {c: feed.loads(k, x) for k, c in enumerate(plan.chain)})
    return Estimate(parameters + inputs, compute_cycles(plan), readback_cycles(plan), parameters, plan.batch)


def relative_error(estimated: float, simulated: float) -> float:
    """``(estimated - simulated) / simulated``: positive when the estimate is high."""
    return (estimated - simulated) / simulated if simulated else 0.0


def errors(estimated: Estimate, metrics: Mapping[str, Any]) -> dict[str, float]:
    """Per figure of ``Estimate.figures``, the estimate's relative error against a run's ``metrics``."""
    return {key: relative_error(value, float(metrics[key])) for key, value in estimated.figures().items()}
