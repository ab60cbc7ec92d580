"""Graph cut: a sparse network split into densely connected parts, one per core, placed on the mesh.

The approach of model-parallel sparse networks: neurons as the nodes of a graph and
connections as its edges (``nnmap.graphcut.graph``), cut into as many parts as cores,
balanced on compute cycles (multiply-adds and activations) layer by layer with as few
edges cut as the partitioner finds
(``nnmap.graphcut.partition``), the parts then placed on the mesh so that heavy traffic
travels few hops (``nnmap.graphcut.placement``). Each core computes its neurons whole
(no partial sums) and, with the default ``targeted`` delivery, sends each value only to
the cores that read it: messages travel only along the edges the cut crosses.
"""

from __future__ import annotations

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap.graphcut import placement
from nnmap.graphcut.graph import neuron_graph, part_traffic
from nnmap.graphcut.partition import partition
from nnmap.model import Network
from nnmap.plan import LayerAssignment
from nnmap.strategies.base import STRATEGIES, Strategy
from nnmap.strategies.node_per_core import whole_outputs


@STRATEGIES.add
class GraphCut(Strategy):
    """Neurons cut into balanced, densely connected parts, one per core, placed on the mesh to keep traffic short."""

    name = "graph-cut"
    default_broadcast = "targeted"

    def place(self, config: ChipConfig, net: Network, chain: list[Coord]) -> tuple[list[Coord], list[LayerAssignment]]:
        graph = neuron_graph(net, config)
        part = partition(graph, len(chain))
        coords = placement.place(part_traffic(graph, part), chain)
        layers = [
            whole_outputs(layer.n_in, [part[(li, j)] for j in range(layer.n_out)], len(chain))
            for li, layer in enumerate(net.layers)
        ]
        return coords, layers
