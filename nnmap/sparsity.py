"""Sparse networks: connectivity masks drawn from a pattern, and networks that carry them.

A pattern gives each layer a boolean mask shaped like its weights that keeps about
``1 - sparsity`` of the connections:

- ``random``: ``round((1 - sparsity) n_in n_out)`` connections (at least one) drawn
  uniformly without replacement, so the density is exact to one connection;
- ``block``: block-diagonal. The inputs and the outputs of every layer are cut into ``B``
  contiguous groups, ``B = round(1 / (1 - sparsity))``, and group ``b`` of the inputs
  connects only to group ``b`` of the outputs; consecutive layers share the groups of the
  hidden layer between them, so the network falls apart into ``B`` independent columns;
- ``banded``: input ``i`` connects to output ``j`` when their positions in their layers,
  ``(i + 1/2) / n_in`` and ``(j + 1/2) / n_out``, differ by at most ``(1 - sparsity) / 2``
  (the band keeps about ``1 - sparsity`` of each row, a little less at the edges); every
  output keeps at least its nearest inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnmap.errors import ModelError
from nnmap.model import Layer, Network


def _random(n_in: int, n_out: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Connections kept at random, anywhere in the layer."""
    keep = max(1, round(density * n_in * n_out))
    mask = np.zeros(n_in * n_out, dtype=bool)
    mask[rng.choice(n_in * n_out, size=keep, replace=False)] = True
    return mask.reshape(n_in, n_out)


def block_count(density: float) -> int:
    """The number of diagonal blocks the ``block`` pattern uses for ``density`` = 1 - sparsity."""
    return max(1, round(1 / density))


def _block(n_in: int, n_out: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Diagonal blocks: inputs and outputs in as many groups, each group of outputs reads its group of inputs."""
    blocks = block_count(density)
    group_in = np.arange(n_in) * blocks // n_in
    group_out = np.arange(n_out) * blocks // n_out
    return group_in[:, None] == group_out[None, :]


def _banded(n_in: int, n_out: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """A band along the diagonal: each output reads the inputs at about its own relative position."""
    pos_in = (np.arange(n_in) + 0.5) / n_in
    pos_out = (np.arange(n_out) + 0.5) / n_out
    distance = np.abs(pos_in[:, None] - pos_out[None, :])
    nearest = distance.min(axis=0, keepdims=True) + 1e-9  # equally near inputs, whatever the rounding
    return (distance <= density / 2) | (distance <= nearest)


MASK_PATTERNS: dict[str, Callable[[int, int, float, np.random.Generator], np.ndarray]] = {
    "random": _random,
    "block": _block,
    "banded": _banded,
}
"""Mask makers by name: ``(n_in, n_out, density, rng)`` to an ``(n_in, n_out)`` bool mask."""


def sparse_mask(n_in: int, n_out: int, sparsity: float, pattern: str, rng: np.random.Generator) -> np.ndarray:
    """A ``(n_in, n_out)`` mask of ``pattern`` that drops about ``sparsity`` of the connections."""
    if not 0 <= sparsity < 1:
        raise ModelError(f"--sparsity is the fraction of connections dropped, in [0, 1); got {sparsity}")
    if pattern not in MASK_PATTERNS:
        raise ModelError(f"unknown sparse pattern {pattern!r}: use one of {', '.join(MASK_PATTERNS)}")
    return MASK_PATTERNS[pattern](n_in, n_out, 1 - sparsity, rng)


def sparsify(net: Network, sparsity: float, pattern: str, seed: int = 0) -> Network:
    """``net`` with a seeded mask of ``pattern`` on every layer and its weights outside the mask zeroed."""
    rng = np.random.default_rng(seed)
    layers = []
    for layer in net.layers:
        mask = sparse_mask(layer.n_in, layer.n_out, sparsity, pattern, rng)
        layers.append(Layer(np.where(mask, layer.weights, np.float32(0)), layer.bias, layer.activation, mask))
    return Network(tuple(layers))


def shuffle_hidden(net: Network, seed: int = 0) -> Network:
    """The same function with every hidden layer's neurons renumbered at random.

    Hidden neuron ``j`` of layer ``l`` becomes neuron ``p[j]``: its column of ``W_l``, its
    bias and its row of ``W_{l+1}`` (and of the masks) move together, so the outputs do not
    change but any structure the neuron numbers showed (blocks, bands) is hidden from a
    scheme that deals neurons in index order.
    """
    rng = np.random.default_rng(seed)
    layers = list(net.layers)
    for li in range(len(layers) - 1):
        order = rng.permutation(layers[li].n_out)  # new position p holds old neuron order[p]
        here, after = layers[li], layers[li + 1]
        here_mask = None if here.mask is None else here.mask[:, order]
        after_mask = None if after.mask is None else after.mask[order, :]
        layers[li] = Layer(here.weights[:, order], here.bias[order], here.activation, here_mask)
        layers[li + 1] = Layer(after.weights[order, :], after.bias, after.activation, after_mask)
    return Network(tuple(layers))
