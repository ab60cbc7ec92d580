"""The partitioned weight scheme of the Parallella blog post "Parallel Neural Networks - Carving up the task".

All ``n * m`` products of a layer are laid out output-major (product ``j * n + i`` is
``x[i] * W[i, j]``), and chain core ``c`` takes products ``[floor(c P / C),
floor((c + 1) P / C))``, ``P = n m``: the work is balanced to one product. The core holding
an output's last product owns it; every other core holding part of it hands its partial
sum to the next core of the chain.
"""

from __future__ import annotations

from nnmap.lowering.flows import CHAIN
from nnmap.plan import LayerAssignment, Piece
from nnmap.strategies.base import Strategy


class Partitioned(Strategy):
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
