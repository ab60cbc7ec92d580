"""A neuron graph cut into parts balanced on compute cycles, with few edges cut.

Each node weighs the cycles of its multiply-adds, bias and activation (``cycles``, see
``nnmap.graphcut.graph``): a neuron without connections still costs its activation, so
balancing multiply-adds alone would pile such neurons onto one core. The layers of a
network run one after the other on every core, so a part must be balanced in every layer,
not only in total. The limit of layer ``l`` is ``max((1 + BALANCE_TOLERANCE) * W_l / C, w_l)``:
``BALANCE_TOLERANCE`` over the layer's mean share of its cycles ``W_l`` over ``C`` parts, or its
heaviest neuron ``w_l`` where a layer has fewer neurons than parts. Neurons are never
split, so where they are few or uneven the limit may not be reachable; the partition then
keeps the closest balance it finds.

The steps, each a pass over the whole graph:

1. A start: the nodes in some order (``ORDERS``), each layer's nodes cut in that order
   into ``C`` runs of about equal cycles.
2. Balancing: nodes of a part over a layer's limit move (or swap with a lighter node) to a
   part with room, the move that cuts fewest edges first.
3. Refinement, in the manner of Kernighan-Lin and Fiduccia-Mattheyses: a node moves to the
   part that holds most of its neighbours when that cuts fewer edges and the part has room
   (or, at equal cut, evens out the loads); when the part has no room, the node swaps with a
   node of the same layer there if the two moves together cut fewer edges. Repeated until
   a pass changes nothing.

Both starts of ``ORDERS`` are refined; the partition kept is the one within the limits (if
either is) with the fewest edges cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import networkx as nx

from nnmap.graphcut.graph import Node, edges_cut

BALANCE_TOLERANCE = 0.05
"""How far above its layer's mean share a part's cycles may go."""
MAX_PASSES = 50
"""Refinement passes at most (each pass that moves anything cuts fewer edges or evens out loads)."""


def _by_index(graph: nx.Graph) -> list[Node]:
    return sorted(graph.nodes)


def _cuthill_mckee(graph: nx.Graph) -> list[Node]:
    return list(nx.utils.reverse_cuthill_mckee_ordering(graph))


ORDERS: dict[str, Callable[[nx.Graph], list[Node]]] = {"index": _by_index, "cuthill-mckee": _cuthill_mckee}
"""Node orders a start is cut from: neuron index (contiguous neuron ranges), and reverse
Cuthill-McKee (a breadth-first order that keeps connected neurons close)."""


def layer_limits(graph: nx.Graph, n_parts: int, tolerance: float = BALANCE_TOLERANCE) -> dict[int, float]:
    """The most cycles a part should hold in each layer (see the module's docstring)."""
    total: dict[int, float] = {}
    heaviest: dict[int, float] = {}
    for node, data in graph.nodes(data=True):
        total[node[0]] = total.get(node[0], 0.0) + data["cycles"]
        heaviest[node[0]] = max(heaviest.get(node[0], 0.0), data["cycles"])
    return {li: max((1 + tolerance) * total[li] / n_parts, heaviest[li]) for li in total}


def partition(graph: nx.Graph, n_parts: int, tolerance: float = BALANCE_TOLERANCE) -> dict[Node, int]:
    """Each node's part in ``range(n_parts)``: balanced layer by layer, few edges cut (the module's steps)."""
    limits = layer_limits(graph, n_parts, tolerance)
    best: tuple[bool, int] | None = None
    kept: dict[Node, int] = {}
    for order in ORDERS.values():
        parts = _Parts(graph, n_parts, _start(graph, order(graph), n_parts), limits)
        parts.balance()
        parts.refine()
        score = (not parts.within_limits(), edges_cut(graph, parts.part))
        if best is None or score < best:
            best, kept = score, dict(parts.part)
    return kept


def _start(graph: nx.Graph, order: list[Node], n_parts: int) -> dict[Node, int]:
    """Each layer's nodes, in ``order``, cut into ``n_parts`` runs of about equal cycles."""
    part: dict[Node, int] = {}
    for li in sorted({node[0] for node in order}):
        nodes = [node for node in order if node[0] == li]
        weights = [graph.nodes[node]["cycles"] for node in nodes]
        total = sum(weights)
        if total == 0:  # work that costs nothing: deal the nodes evenly
            weights, total = [1.0] * len(nodes), float(len(nodes))
        before = 0.0
        for node, w in zip(nodes, weights, strict=True):
            part[node] = min(n_parts - 1, int((before + w / 2) * n_parts // total))
            before += w
    return part


class _Parts:
    """A partition being improved: each node's part, every part's load per layer, and each
    node's edge bytes to every part (``links``), kept up to date move by move."""

    def __init__(self, graph: nx.Graph, n_parts: int, part: dict[Node, int], limits: dict[int, float]) -> None:
        self.graph = graph
        self.n_parts = n_parts
        self.part = part
        self.limits = limits
        self.cycles: dict[Node, float] = {node: data["cycles"] for node, data in graph.nodes(data=True)}
        self.load = {li: [0.0] * n_parts for li in limits}
        self.members: dict[tuple[int, int], set[Node]] = {}
        for node, p in part.items():
            self.load[node[0]][p] += self.cycles[node]
            self.members.setdefault((node[0], p), set()).add(node)
        self.links: dict[Node, Counter[int]] = {node: Counter() for node in part}
        for u, v, data in graph.edges(data=True):
            self.links[u][part[v]] += data["bytes"]
            self.links[v][part[u]] += data["bytes"]

    def within_limits(self) -> bool:
        return all(max(self.load[li]) <= limit for li, limit in self.limits.items())

    def gain(self, node: Node, to: int) -> int:
        """Bytes of cut edges that moving ``node`` to part ``to`` saves (negative: it costs)."""
        links = self.links[node]
        return links[to] - links[self.part[node]]

    def fits(self, node: Node, to: int, leaving: Node | None = None) -> bool:
        """Whether part ``to`` has room for ``node`` in its layer (once ``leaving`` has left it)."""
        li = node[0]
        room = self.limits[li] - self.load[li][to] + (self.cycles[leaving] if leaving is not None else 0)
        return self.cycles[node] <= room

    def move(self, node: Node, to: int) -> None:
        li, was = node[0], self.part[node]
        self.load[li][was] -= self.cycles[node]
        self.load[li][to] += self.cycles[node]
        self.members[(li, was)].discard(node)
        self.members.setdefault((li, to), set()).add(node)
        self.part[node] = to
        for other, data in self.graph[node].items():
            links = self.links[other]
            links[was] -= data["bytes"]
            links[to] += data["bytes"]

    def balance(self) -> None:
        """Step 2: empty each part's excess over its layer's limit, cheapest moves first."""
        for li, limit in self.limits.items():
            for p in range(self.n_parts):
                while self.load[li][p] > limit and self._relieve(li, p):
                    pass

    def _relieve(self, li: int, p: int) -> bool:
        """Move one node out of part ``p`` in layer ``li`` (or swap it for a lighter one); False if none can go."""
        nodes = sorted(self.members.get((li, p), ()))
        moves = [(self.gain(v, q), v, q) for v in nodes for q in range(self.n_parts) if q != p and self.fits(v, q)]
        if moves:
            _, v, q = max(moves, key=lambda m: (m[0], -m[2]))
            self.move(v, q)
            return True
        swaps = [
            (self.gain(v, q) + self.gain(u, p), v, u)
            for v in nodes
            for q in range(self.n_parts)
            if q != p
            for u in sorted(self.members.get((li, q), ()))
            if self.cycles[u] < self.cycles[v] and self.fits(v, q, leaving=u)
        ]
        if not swaps:
            return False
        _, v, u = max(swaps, key=lambda s: s[0])
        q = self.part[u]
        self.move(v, q)
        self.move(u, p)
        return True

    def refine(self) -> None:
        """Step 3: moves and swaps that cut fewer edges (or even out loads at equal cut), until none is left."""
        for _ in range(MAX_PASSES):
            changed = False
            for node in sorted(self.part):
                changed |= self._improve(node)
            if not changed:
                return

    def _improve(self, node: Node) -> bool:
        li, p = node[0], self.part[node]
        load = self.load[li]
        targets = sorted((q for q in self.links[node] if q != p), key=lambda q: (-self.gain(node, q), q))
        for q in targets:
            gain = self.gain(node, q)
            if gain < 0:
                break
            if self.fits(node, q) and (gain > 0 or load[q] + self.cycles[node] < load[p]):
                self.move(node, q)
                return True
            if gain > 0:
                partner = self._partner(node, q, gain)
                if partner is not None:
                    self.move(node, q)
                    self.move(partner, p)
                    return True
        return False

    def _partner(self, node: Node, q: int, gain: int) -> Node | None:
        """The node of part ``q`` and ``node``'s layer whose swap with ``node`` saves most, if any saves."""
        p = self.part[node]
        best, chosen = 0, None
        for other in sorted(self.members.get((node[0], q), ())):
            total = gain + self.gain(other, p)  # nodes of one layer share no edge
            if total > best and self.fits(node, q, leaving=other) and self.fits(other, p, leaving=node):
                best, chosen = total, other
        return chosen
