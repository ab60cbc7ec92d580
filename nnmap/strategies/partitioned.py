"""The partitioned weight scheme of the Parallella blog post "Parallel Neural Networks - Carving up the task".

All ``n * m`` products of a layer are laid out output-major (product ``j * n + i`` is
``x[i] * W[i, j]``), and chain core ``c`` takes products ``[floor(c P / C),
floor((c + 1) P / C))``, ``P = n m``: the work is balanced to one product. The core holding
an output's last product owns it; every other core holding part of it hands its partial
sum to the next core of the chain.

On a sparse layer the products are the connections the layer has, in the same order, and
the ranges are cut over them, so the work stays balanced to one product. An output
without connections goes to the core whose range its place in that order falls in.
"""

from __future__ import annotations

import numpy as np

from nnmap.lowering.flows import CHAIN
from nnmap.model import Layer
from nnmap.plan import LayerAssignment, Piece
from nnmap.strategies.base import STRATEGIES, Strategy


@STRATEGIES.add
class Partitioned(Strategy):
    """The blog post's scheme: product ranges balanced to one product, partial sums handed to the next core."""

    name = "partitioned"
    default_broadcast = "bidir"
    variants = ("bidir", "oneway", "dram")  # on-chip neighbour writes against the DRAM round trip

    def assign(self, n_in: int, n_out: int, n_cores: int) -> LayerAssignment:
        total = n_in * n_out
        pieces: list[list[Piece]] = []
        owner: dict[int, int] = {}
        for c in range(n_cores):
            a, b = c * total // n_cores, (c + 1) * total // n_cores
            mine = []
            for j in range(a // n_in, -(-b // n_in)) if b > a else ():
                lo, hi = max(a, j * n_in), min(b, (j + 1) * n_in)
                mine.append(Piece(j, lo - j * n_in, hi - lo))
                if hi == (j + 1) * n_in:
                    owner[j] = c
            pieces.append(mine)
        return LayerAssignment(pieces, CHAIN, owner)

    def deal(self, layer: Layer, n_cores: int) -> LayerAssignment:
        if layer.mask is None:
            return self.assign(layer.n_in, layer.n_out, n_cores)
        outputs, inputs = np.nonzero(layer.mask.T)  # the connections, output-major
        total = len(outputs)
        bounds = [c * total // n_cores for c in range(n_cores + 1)]
        first = np.searchsorted(outputs, np.arange(layer.n_out))  # each output's place in that order
        pieces: list[list[Piece]] = [[] for _ in range(n_cores)]
        owner: dict[int, int] = {}
        for j in range(layer.n_out):
            lo, hi = int(first[j]), int(first[j + 1]) if j + 1 < layer.n_out else total
            c = min(n_cores - 1, int(np.searchsorted(bounds, lo, side="right")) - 1)  # the range holding lo
            if lo == hi:
                pieces[c].append(Piece(j, 0, 0))
                owner[j] = c
            while c < n_cores and bounds[c] < hi:
                a, b = max(lo, bounds[c]), min(hi, bounds[c + 1])
                if a < b:  # cores may get no connection at all when there are fewer than cores
                    start = int(inputs[a])
                    pieces[c].append(Piece(j, start, int(inputs[b - 1]) - start + 1))
                    owner[j] = c
                c += 1
        return LayerAssignment(pieces, CHAIN, owner)
