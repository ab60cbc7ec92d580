"""Property: any network, mesh, strategy and broadcast computes what numpy computes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from epiphany_sim.config import load_chip
from nnmap.lowering.broadcast import BROADCASTS
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.strategies import STRATEGIES


@settings(deadline=None, max_examples=25)
@given(
    sizes=st.lists(st.integers(1, 20), min_size=2, max_size=4),  # one to three dense layers
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    strategy=st.sampled_from(sorted(STRATEGIES)),
    broadcast=st.sampled_from(sorted(BROADCASTS)),
    hidden=st.sampled_from(["sigmoid", "tanh", "relu", "identity"]),
    output=st.sampled_from(["sigmoid", "tanh", "relu", "identity", "softmax"]),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_any_mapping_matches_numpy(
    sizes, rows, cols, strategy, broadcast, hidden, output, batch, seed, numpy_forward, assert_matches
) -> None:
    net = random_network(sizes, hidden, output, seed)
    x = random_inputs(net, batch, seed) * 4 - 2
    result = run(load_chip(f"{rows}x{cols}"), net, strategy, x, broadcast, baseline=False)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert result.metrics["validated"] is True
    assert result.metrics["broadcast"] == broadcast
