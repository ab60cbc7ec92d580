"""Round robin: product ``k = j n + i`` goes to chain core ``k mod C``.

Every core gets the same work to one product, but each output's products are spread over
up to ``C`` cores, and every partial sum travels to the output's owner (its contributors
take turns owning outputs): the "communication headache" the blog post warns of.
"""

from __future__ import annotations

from nnmap.lowering.flows import GATHER
from nnmap.plan import LayerAssignment, Piece
from nnmap.strategies.base import STRATEGIES, Strategy


@STRATEGIES.add
class RoundRobin(Strategy):
    """Product k to core k mod C: equal work, but every output's partial sums travel to its owner."""

    name = "round-robin"
    default_broadcast = "bidir"

    def assign(self, n_in: int, n_out: int, n_cores: int) -> LayerAssignment:
        pieces: list[list[Piece]] = [[] for _ in range(n_cores)]
        for j in range(n_out):
            for c in range(n_cores):
                start = (c - j * n_in) % n_cores
                if start < n_in:
                    pieces[c].append(Piece(j, start, -(-(n_in - start) // n_cores), n_cores))
        contributors: dict[int, list[int]] = {}
        for c, held in enumerate(pieces):
            for piece in held:
                contributors.setdefault(piece.j, []).append(c)
        # Owners rotate over each output's contributors so no core collects every sum.
        owner = {j: contributors[j][j % len(contributors[j])] for j in range(n_out)}
        return LayerAssignment(pieces, GATHER, owner)
