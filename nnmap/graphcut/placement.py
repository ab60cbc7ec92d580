"""Parts placed on the mesh's cores so that heavy traffic travels few hops.

A message from core ``a`` to core ``b`` takes ``|row_a - row_b| + |col_a - col_b|`` router
hops (dimension-order routing takes a shortest path), so a placement costs
``hop_bytes = sum of bytes x hops`` over the traffic between parts. Two steps:

1. Recursive bisection: the cores are halved across the longer side of their rectangle
   (the mesh's halves, then quarters, ...), and the parts are split into two groups of the
   same sizes with as little traffic between the groups as Kernighan-Lin bisection
   (networkx) finds; each group goes to one half, recursively, down to one part per core.
2. Pairwise swaps: the swap of two parts' cores that lowers ``hop_bytes`` most is made,
   again and again, until no swap lowers it (or ``MAX_SWAPS_PER_CORE`` per core have been
   made).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np

from epiphany_sim.mesh import Coord

MAX_SWAPS_PER_CORE = 4


def hops(a: Coord, b: Coord) -> int:
    """Router hops from core ``a`` to core ``b``."""
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def hop_bytes(traffic: Mapping[tuple[int, int], int], coords: Sequence[Coord]) -> int:
    """Sum of bytes times hops of ``traffic`` (``(src part, dst part)`` to bytes), part ``p`` on ``coords[p]``."""
    return sum(n * hops(coords[a], coords[b]) for (a, b), n in traffic.items())


def place(traffic: Mapping[tuple[int, int], int], cores: Sequence[Coord]) -> list[Coord]:
    """The core of each part ``0 .. len(cores) - 1``, chosen among ``cores`` (the module's steps)."""
    n = len(cores)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for (a, b), n_bytes in traffic.items():
        if a != b:
            old = graph.get_edge_data(a, b, {"bytes": 0})["bytes"]
            graph.add_edge(a, b, bytes=old + n_bytes)
    coords: list[Coord] = [(0, 0)] * n
    _bisect(graph, list(range(n)), list(cores), coords)
    return _swap(traffic, coords)


def _halves(cores: list[Coord]) -> tuple[list[Coord], list[Coord]]:
    """``cores`` cut across the longer side of their bounding rectangle, the first half the smaller."""
    rows = max(r for r, _ in cores) - min(r for r, _ in cores)
    cols = max(c for _, c in cores) - min(c for _, c in cores)
    ordered = sorted(cores, key=(lambda rc: (rc[1], rc[0])) if cols >= rows else (lambda rc: rc))
    return ordered[: len(cores) // 2], ordered[len(cores) // 2 :]


def _bisect(graph: nx.Graph, parts: list[int], cores: list[Coord], coords: list[Coord]) -> None:
    if len(parts) == 1:
        coords[parts[0]] = cores[0]
        return
    first, second = _halves(cores)
    start = (set(parts[: len(first)]), set(parts[len(first) :]))
    one, other = nx.algorithms.community.kernighan_lin_bisection(graph.subgraph(parts), partition=start, weight="bytes")
    left, right = (one, other) if len(one) == len(first) else (other, one)  # swaps keep the sizes, not the order
    _bisect(graph, sorted(left), first, coords)
    _bisect(graph, sorted(right), second, coords)


def _swap(traffic: Mapping[tuple[int, int], int], coords: list[Coord]) -> list[Coord]:
    """Step 2: best swaps first. With ``T`` the symmetric traffic and ``M`` the hops between the
    parts' cores, swapping parts ``a`` and ``b`` changes ``hop_bytes`` by
    ``P[a, b] + P[b, a] - P[a, a] - P[b, b] + 2 T[a, b] M[a, b]``, ``P = T M``."""
    n = len(coords)
    t = np.zeros((n, n))
    for (a, b), n_bytes in traffic.items():
        t[a, b] += n_bytes
        t[b, a] += n_bytes
    at = np.array(coords, dtype=float)
    for _ in range(MAX_SWAPS_PER_CORE * n):
        m = np.abs(at[:, None, :] - at[None, :, :]).sum(axis=2)
        p = t @ m
        diagonal = np.diag(p)
        delta = p + p.T - diagonal[:, None] - diagonal[None, :] + 2 * t * m
        a, b = (int(i) for i in np.unravel_index(np.argmin(delta), delta.shape))
        if delta[a, b] >= 0:
            break
        at[[a, b]] = at[[b, a]]
    return [(int(r), int(c)) for r, c in at]
