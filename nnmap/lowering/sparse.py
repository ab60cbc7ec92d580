"""Sparse layers on the cores: each core stores and multiplies only the connections it has.

A strategy deals a sparse layer as if it were dense; ``compress`` then keeps, of each
piece, the inputs the layer's mask connects to the piece's output (``SparsePiece``). The
core's SRAM holds the compressed layout: the weights of its connections one after the
other (``nnmap.buffers.weights``) and, beside them, each weight's input index
(``nnmap.buffers.weight_inputs``, one 32-bit word per connection, stored as a float32
value, exact below 2**24). A connection takes 8 bytes where a dense product takes 4, so
the layout saves SRAM once a core's share is less than half connected.

``SparseMac`` (``nnmap.programs``) multiplies a piece: for each connection it loads the weight and its index
(one doubleword load) and then the input the index names, at the cost of
``epiphany_sim.costs.sparse_dot_cycles``: two loads per product on the core's one
load/store unit, where a dense dot product needs one.
"""

from __future__ import annotations

import numpy as np

from nnmap.plan import LayerAssignment, SparsePiece


def compress(assign: LayerAssignment, mask: np.ndarray | None) -> LayerAssignment:
    """The deal of a layer with connectivity ``mask``: each piece keeps the connections it has.

    A piece left without connections is dropped, unless its core owns the output: the owner
    still finishes it (its bias and activation, after the partial sums of the other cores).
    A dense layer (``mask`` ``None``) keeps its deal.
    """
    if mask is None:
        return assign
    pieces = []
    for k, mine in enumerate(assign.pieces):
        kept = []
        for piece in mine:
            rows = piece.input_array()
            rows = rows[mask[rows, piece.j]]
            if len(rows) or assign.owner[piece.j] == k:
                kept.append(SparsePiece(piece.j, tuple(int(i) for i in rows)))
        pieces.append(kept)
    return LayerAssignment(pieces, assign.flow, dict(assign.owner))
