"""Property: any network, dense or sparse, on any mesh, strategy and broadcast computes what numpy computes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from epiphany_sim.config import load_chip
from nnmap.lowering.delivery import DELIVERIES
from nnmap.model import Layer, Network, random_inputs, random_network
from nnmap.run import run
from nnmap.strategies import STRATEGIES


@pytest.mark.slow
@settings(deadline=None, max_examples=25)
@given(
    sizes=st.lists(st.integers(1, 20), min_size=2, max_size=4),  # one to three dense layers
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    strategy=st.sampled_from(sorted(STRATEGIES)),
    broadcast=st.sampled_from(sorted(DELIVERIES)),
    hidden=st.sampled_from(["sigmoid", "tanh", "relu", "identity"]),
    output=st.sampled_from(["sigmoid", "tanh", "relu", "identity", "softmax"]),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_any_mapping_matches_numpy(
    sizes, rows, cols, strategy, broadcast, hidden, output, batch, seed, numpy_forward, assert_matches
) -> None:
    assume(STRATEGIES[strategy]().supports(broadcast))
    net = random_network(sizes, hidden, output, seed)
    x = random_inputs(net, batch, seed) * 4 - 2
    result = run(load_chip(f"{rows}x{cols}"), net, strategy, x, broadcast, baseline=False)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert result.metrics["validated"] is True
    assert result.metrics["broadcast"] == broadcast


@pytest.mark.slow
@settings(deadline=None, max_examples=30)
@given(
    sizes=st.lists(st.integers(1, 16), min_size=2, max_size=4),
    density=st.floats(0.0, 1.0),
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    strategy=st.sampled_from(sorted(STRATEGIES)),
    broadcast=st.sampled_from(sorted(DELIVERIES)),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_any_mapping_of_a_random_mask_matches_the_masked_pass(
    sizes, density, rows, cols, strategy, broadcast, batch, seed, assert_matches
) -> None:
    """Masks drawn connection by connection (empty rows, columns and whole layers included);
    the reference multiplies by them itself."""
    assume(STRATEGIES[strategy]().supports(broadcast))
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        mask = rng.random((n_in, n_out)) < density
        weights = np.where(mask, rng.uniform(-1, 1, (n_in, n_out)), 0).astype(np.float32)
        layers.append(Layer(weights, rng.uniform(-1, 1, n_out).astype(np.float32), "tanh", mask))
    net = Network(tuple(layers))
    x = rng.uniform(-2, 2, (batch, sizes[0])).astype(np.float32)
    result = run(load_chip(f"{rows}x{cols}"), net, strategy, x, broadcast, baseline=False)
    h = x.astype(np.float64)
    for layer in net.layers:
        assert layer.mask is not None
        h = np.tanh(h @ (layer.weights.astype(np.float64) * layer.mask) + layer.bias)
    assert_matches(result.outputs, h)
