"""Sparse networks on the chip: every strategy matches a numpy masked forward pass, each core
stores only the connections it has, and a missing wait or send still shows.

The reference here multiplies by the masks itself (``W * M`` in float64), apart from
``nnmap.model``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from epiphany_sim.config import E16, load_chip
from epiphany_sim.errors import DeadlockError
from nnmap import buffers
from nnmap.errors import MappingError
from nnmap.mapping import plan_for
from nnmap.model import Network, random_inputs, random_network
from nnmap.plan import SparsePiece
from nnmap.programs import Send, Wait
from nnmap.run import run, simulate, validate
from nnmap.sparsity import sparsify
from nnmap.strategies import STRATEGIES

SIZES = [24, 40, 32, 6]


def _net(pattern: str, sparsity: float = 0.8, seed: int = 1) -> Network:
    return sparsify(random_network(SIZES, "tanh", "sigmoid", seed), sparsity, pattern, seed)


def _masked_forward(net: Network, x: np.ndarray) -> np.ndarray:
    """tanh hidden layers, sigmoid outputs, every weight matrix multiplied by its mask."""
    h = x.astype(np.float64)
    for li, layer in enumerate(net.layers):
        assert layer.mask is not None
        z = h @ (layer.weights.astype(np.float64) * layer.mask) + layer.bias
        h = np.tanh(z) if li < len(net.layers) - 1 else 1 / (1 + np.exp(-z))
    return h


@pytest.mark.slow
@pytest.mark.parametrize("chip", ["e16", "e64", "3x5"])
@pytest.mark.parametrize("pattern", ["random", "block", "banded"])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_matches_the_masked_pass(chip, pattern, strategy, assert_matches) -> None:
    net = _net(pattern)
    x = random_inputs(net, 2, seed=3) * 2 - 1
    result = run(load_chip(chip), net, strategy, x, baseline=False)
    assert_matches(result.outputs, _masked_forward(net, x))
    assert result.metrics["validated"] is True


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_matches_with_the_targeted_broadcast(strategy, assert_matches) -> None:
    net = _net("random", 0.6, seed=4)
    x = random_inputs(net, 3, seed=4)
    result = run(E16, net, strategy, x, "targeted", baseline=False)
    assert_matches(result.outputs, _masked_forward(net, x))


def test_each_core_stores_only_its_connections() -> None:
    """Node per core on 16 cores: core k computes outputs k, k + 16, ... whole, so it stores the
    weights of their connections, output after output, and each weight's input index beside it."""
    net = _net("random", 0.9)
    plan = plan_for("node-per-core", E16, net)
    for li, layer in enumerate(net.layers):
        assert layer.mask is not None
        for k, coord in enumerate(plan.chain):
            outputs = range(k, layer.n_out, 16)
            if not outputs:
                assert buffers.weights(li) not in plan.buffers[coord]
                continue
            rows = [np.flatnonzero(layer.mask[:, j]) for j in outputs]
            weights = np.concatenate([layer.weights[r, j] for r, j in zip(rows, outputs, strict=True)])
            n = sum(len(r) for r in rows)
            assert plan.buffers[coord][buffers.weights(li)] == n
            assert plan.buffers[coord][buffers.weight_inputs(li)] == n
            np.testing.assert_array_equal(plan.setup[coord][buffers.weights(li)], weights)
            np.testing.assert_array_equal(plan.setup[coord][buffers.weight_inputs(li)], np.concatenate(rows))
            expected = [SparsePiece(j, tuple(r.tolist())) for j, r in zip(outputs, rows, strict=True)]
            assert plan.layers[li].pieces[k] == expected


@pytest.mark.slow
def test_a_sparse_network_fits_where_the_dense_one_does_not() -> None:
    """256,512,16 dense: (256 * 512 + 512 * 16) * 4 bytes / 16 cores = 34,816 bytes of weights per
    core, over the 28,672 bytes of data room. At 90% sparsity partitioned gives a core at most
    ceil(P / 16) of a layer's P connections at 8 bytes each (weight and input index)."""
    dense = random_network([256, 512, 16], seed=0)
    with pytest.raises(MappingError, match="does not fit e16"):
        plan_for("partitioned", E16, dense)
    sparse = sparsify(dense, 0.9, "random", seed=0)
    result = run(E16, sparse, "partitioned", baseline=False)
    assert result.metrics["validated"] is True
    for li, layer in enumerate(sparse.layers):
        assert layer.mask is not None
        most = -(-int(layer.mask.sum()) // 16)
        for coord in result.plan.chain:
            named = result.plan.buffers[coord]
            assert named[buffers.weights(li)] == named[buffers.weight_inputs(li)] <= most
    assert run(E16, sparse, "graph-cut", baseline=False).metrics["validated"] is True


@pytest.mark.slow
def test_partitioned_balances_the_connections_to_one() -> None:
    """Contiguous ranges over the connections in output-major order: each core gets
    ``floor(P / C)`` or ``ceil(P / C)`` of them, and the cores in chain order hold them all in order."""
    net = _net("banded", 0.85)
    plan = plan_for("partitioned", E16, net)
    for layer, assign in zip(net.layers, plan.layers, strict=True):
        assert layer.mask is not None
        order = [(j, i) for j in range(layer.n_out) for i in np.flatnonzero(layer.mask[:, j])]
        counts = [assign.products(k) for k in range(16)]
        assert set(counts) <= {len(order) // 16, -(-len(order) // 16)}
        dealt = [(p.j, i) for pieces in assign.pieces for p in pieces for i in p.inputs]
        assert dealt == order


def _graph_cut_plan(x_batch: int = 1):
    net = sparsify(random_network([16, 48, 12], seed=2), 0.8, "random", seed=2)
    return net, random_inputs(net, x_batch, seed=2), plan_for("graph-cut", E16, net, x_batch)


def test_a_core_that_skips_its_wait_for_values_reads_nan() -> None:
    net, x, plan = _graph_cut_plan()
    good = simulate(plan, x)
    cores = good.session.chip
    waited = [
        k
        for k, coord in enumerate(plan.chain)
        if any(act.kind == "wait" and act.label == "wait h0" for act in cores.core(coord).activities)
    ]
    assert waited, "no core waited for a hidden value: the test would prove nothing"
    k = waited[0]
    coord = plan.chain[k]
    kept = tuple(op for op in plan.ops[coord] if not (isinstance(op, Wait) and op.label == "wait h0"))
    plan = dataclasses.replace(plan, ops={**plan.ops, coord: kept})
    out = simulate(plan, x).outputs
    owned = plan.layers[1].owned(k)
    assert np.isnan(out[0, owned]).any()
    others = [j for j in range(12) if j not in owned]
    np.testing.assert_array_equal(out[:, others], good.outputs[:, others])
    assert validate(out, net.forward(x))[1] is False


def test_a_value_never_sent_leaves_its_reader_waiting() -> None:
    _, x, plan = _graph_cut_plan()
    sender, i = next(
        (coord, i)
        for coord in plan.chain
        for i, op in enumerate(plan.ops[coord])
        if isinstance(op, Send) and op.label.startswith("send h0")
    )
    reader = plan.ops[sender][i].dst
    ops = plan.ops[sender]
    plan = dataclasses.replace(plan, ops={**plan.ops, sender: ops[:i] + ops[i + 1 :]})
    with pytest.raises(DeadlockError) as info:
        simulate(plan, x)
    assert [line for line in info.value.waiting if f"{reader} " in line and "waits for h0.0" in line]
