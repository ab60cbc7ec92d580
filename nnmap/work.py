"""What a layer's outputs cost one core to compute, in cycles, as the programs charge them.

An output is a dot product over its connections (``epiphany_sim.costs.dot_cycles``, or
``sparse_dot_cycles`` on a sparse layer), then its bias and activation
(``activation_cycles``); an output without connections still costs the latter. Strategies
that balance work rather than multiply-adds weigh layers and neurons with these.
"""

from __future__ import annotations

import numpy as np

from epiphany_sim import costs
from epiphany_sim.config import ChipConfig
from nnmap.model import Layer


def output_macs(layer: Layer) -> np.ndarray:
    """Multiply-adds of each output: its connections."""
    if layer.mask is None:
        return np.full(layer.n_out, layer.n_in, dtype=np.int64)
    return layer.mask.sum(axis=0).astype(np.int64)


def output_cycles(config: ChipConfig, layer: Layer) -> np.ndarray:
    """Cycles one core spends on each output of ``layer``: its dot product, bias and activation."""
    dot = costs.dot_cycles if layer.mask is None else costs.sparse_dot_cycles
    finish = costs.activation_cycles(config)
    return np.array([dot(config, int(n)) + finish for n in output_macs(layer)], dtype=np.float64)
