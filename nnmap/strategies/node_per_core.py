"""One node per core: output ``j`` is dealt to chain core ``j mod C``, which computes it whole.

No partial sums travel, but when ``m mod C != 0`` some cores get one output more than
others, and when ``m < C`` some get none (the blog post's objection to this scheme).
"""

from __future__ import annotations

from nnmap.lowering.flows import GATHER
from nnmap.plan import LayerAssignment, Piece
from nnmap.strategies.base import STRATEGIES, Strategy


def whole_outputs(n_in: int, owner_of: list[int], n_cores: int) -> LayerAssignment:
    """Each output computed whole by the chain position ``owner_of[j]``."""
    pieces: list[list[Piece]] = [[] for _ in range(n_cores)]
    for j, c in enumerate(owner_of):
        pieces[c].append(Piece(j, 0, n_in))
    return LayerAssignment(pieces, GATHER, dict(enumerate(owner_of)))


@STRATEGIES.add
class NodePerCore(Strategy):
    """Output j computed whole by core j mod C: no partial sums, but uneven when C does not divide the outputs."""

    name = "node-per-core"
    default_broadcast = "bidir"

    def assign(self, n_in: int, n_out: int, n_cores: int) -> LayerAssignment:
        return whole_outputs(n_in, [j % n_cores for j in range(n_out)], n_cores)
