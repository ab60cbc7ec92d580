"""Neuron ranges with all-to-all writes and a barrier (what the blog post's author later wrote in OpenCL).

Chain core ``c`` computes outputs ``[floor(c m / C), floor((c + 1) m / C))`` whole, then
writes its block straight into every other core's copy of the layer; every core waits
until its copy is complete.
"""

from __future__ import annotations

from nnmap.plan import LayerAssignment
from nnmap.strategies.base import STRATEGIES, Strategy
from nnmap.strategies.node_per_core import whole_outputs


@STRATEGIES.add
class AllGather(Strategy):
    """Each core computes a range of outputs whole and writes it into every other core, then all wait."""

    name = "allgather"
    default_broadcast = "direct"

    def assign(self, n_in: int, n_out: int, n_cores: int) -> LayerAssignment:
        return whole_outputs(n_in, [j * n_cores // n_out for j in range(n_out)], n_cores)
