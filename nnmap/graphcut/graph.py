"""A network as a graph of neurons, and the traffic a partition of it implies.

Every neuron a core computes is a node ``(layer, j)``: output ``j`` of layer ``layer``
(the network's inputs are not nodes: the host loads each core the inputs it reads). A
node has its multiply-adds (``macs``, the connections into it) and weighs the compute
cycles its dot product and its bias and activation take (``cycles``, ``nnmap.work``): a
neuron without connections still costs its activation. Every connection from a hidden
neuron to a neuron of the next layer is an edge weighing the bytes one value costs to
send (``bytes``, a float32 per sample). A
partition puts each node on one part; an edge whose ends sit on two parts is cut, and its
value must travel between them.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np

from epiphany_sim.config import ChipConfig
from nnmap.model import Network
from nnmap.plan import ELEMENT_BYTES
from nnmap.work import output_cycles, output_macs

Node = tuple[int, int]
"""``(layer, j)``: output ``j`` of layer ``layer``."""


def neuron_graph(net: Network, config: ChipConfig) -> nx.Graph:
    """The network as an undirected graph: node attributes ``layer``, ``macs`` and ``cycles`` (on
    ``config``'s cores), edge attribute ``bytes``."""
    graph = nx.Graph()
    for li, layer in enumerate(net.layers):
        macs, cycles = output_macs(layer), output_cycles(config, layer)
        graph.add_nodes_from(
            ((li, j), {"layer": li, "macs": int(macs[j]), "cycles": float(cycles[j])}) for j in range(layer.n_out)
        )
        if li > 0:
            connected = np.ones((layer.n_in, layer.n_out), bool) if layer.mask is None else layer.mask
            rows, cols = np.nonzero(connected)
            graph.add_edges_from(
                ((li - 1, int(i)), (li, int(j)), {"bytes": ELEMENT_BYTES}) for i, j in zip(rows, cols, strict=True)
            )
    return graph


def edges_cut(graph: nx.Graph, part: Mapping[Node, int]) -> int:
    """The edges whose ends lie on different parts."""
    return sum(part[u] != part[v] for u, v in graph.edges)


def part_traffic(graph: nx.Graph, part: Mapping[Node, int]) -> dict[tuple[int, int], int]:
    """Bytes per sample each part sends each other part: every value once to each other part that reads it.

    A value read by several neurons of one part crosses the mesh once, so this counts
    less than the cut edges' bytes when a part holds several readers of one value.
    """
    traffic: dict[tuple[int, int], int] = {}
    for node in graph.nodes:
        src = part[node]
        readers = {part[n] for n in graph[node] if n[0] > node[0]} - {src}
        for dst in readers:
            traffic[(src, dst)] = traffic.get((src, dst), 0) + ELEMENT_BYTES
    return traffic
