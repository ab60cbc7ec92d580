"""Work per core: the partitioned scheme balances to one product; one node per core does not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epiphany_sim.config import load_chip
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.strategies import get_strategy


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(n_in=st.integers(1, 300), n_out=st.integers(1, 300), n_cores=st.integers(1, 1024))
def test_partitioned_work_differs_by_at_most_one_product(n_in, n_out, n_cores, product_range) -> None:
    layer = get_strategy("partitioned").assign(n_in, n_out, n_cores)
    total = n_in * n_out
    counts = [layer.products(k) for k in range(n_cores)]
    assert max(counts) - min(counts) <= 1
    assert sum(counts) == total
    for k in range(n_cores):
        # the pieces, laid end to end output-major (product j*n + i), are exactly core k's share
        held = [p.j * n_in + i for p in layer.pieces[k] for i in p.inputs]
        assert held == list(product_range(k, total, n_cores))


@pytest.mark.parametrize(
    ("chip", "sizes"),
    [
        ("e16", [6, 16, 4]),
        ("e16", [6, 27, 5]),
        ("e64", [64, 128, 10]),
        ("e64", [10, 100, 10]),
        ("2x3", [7, 11, 5]),
        ("3x5", [9, 13, 4]),
        ("3x5", [40, 2, 3]),
        ("1x1", [6, 16, 4]),
    ],
)
def test_partitioned_plans_balance_every_layer(chip, sizes) -> None:
    plan = plan_for("partitioned", load_chip(chip), random_network(sizes))
    n_cores = len(plan.chain)
    for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        counts = [plan.layers[index].products(k) for k in range(n_cores)]
        assert max(counts) - min(counts) <= 1
        assert sorted(set(counts)) == sorted({n_in * n_out // n_cores, -(-n_in * n_out // n_cores)})
        # and the weights loaded on each core are exactly its products' weights
        assert [plan.setup[plan.chain[k]][f"w{index}"].size if counts[k] else 0 for k in range(n_cores)] == counts


def test_round_robin_is_balanced_to_one_product_too() -> None:
    for n_in, n_out, n_cores in [(6, 16, 16), (64, 128, 64), (7, 11, 6), (13, 1, 6), (3, 5, 16)]:
        layer = get_strategy("round-robin").assign(n_in, n_out, n_cores)
        counts = [layer.products(k) for k in range(n_cores)]
        total = n_in * n_out
        assert counts == [len(range(k, total, n_cores)) for k in range(n_cores)]


def test_node_per_core_leaves_cores_short_when_outputs_do_not_divide() -> None:
    """17 hidden nodes of 8 inputs on 16 cores, then 3 outputs of 17 inputs.

    Layer 0: chain core 0 gets nodes 0 and 16 (16 products), the others one node (8).
    Layer 1: cores 0, 1 and 2 get one output of 17 products each, the other 13 nothing.
    """
    plan = plan_for("node-per-core", load_chip("e16"), random_network([8, 17, 3]))
    assert [plan.layers[0].products(k) for k in range(16)] == [16] + [8] * 15
    assert [plan.layers[1].products(k) for k in range(16)] == [17] * 3 + [0] * 13
    assert plan.layers[0].owned(0) == [0, 16]
    partitioned = plan_for("partitioned", load_chip("e16"), random_network([8, 17, 3]))
    # the same layers partitioned: 136 = 16 * 8.5 and 51 = 16 * 3.19 products
    assert sorted({partitioned.layers[0].products(k) for k in range(16)}) == [8, 9]
    assert sorted({partitioned.layers[1].products(k) for k in range(16)}) == [3, 4]


def test_node_per_core_balances_when_outputs_divide() -> None:
    plan = plan_for("node-per-core", load_chip("e16"), random_network([8, 32, 16]))
    assert [plan.layers[0].products(k) for k in range(16)] == [16] * 16
    assert [plan.layers[1].products(k) for k in range(16)] == [32] * 16


def test_cores_without_outputs_sit_idle() -> None:
    """5 nodes and then 3 on 16 cores: chain cores 5..15 never compute."""
    net = random_network([8, 5, 3])
    result = run(load_chip("e16"), net, "node-per-core", random_inputs(net, 2), baseline=False)
    cfg = result.plan.config
    index = {coord: i for i, coord in enumerate(sorted(result.plan.chain))}  # row-major mesh index
    util = result.metrics["core_utilisation"]
    compute = result.metrics["compute_cycles"]
    # An output: its dot product (a cycle per product, a branch per 8, the call, two adds to
    # reduce), then its bias (one add) and its activation.
    per_sample = [
        n + cfg.branch_cycles + cfg.call_cycles + 3 * cfg.fpu_latency_cycles + cfg.cycles_per_activation for n in (8, 5)
    ]
    for k, coord in enumerate(result.plan.chain):
        busy = 2 * ((k < 5) * per_sample[0] + (k < 3) * per_sample[1])
        assert util[index[coord]] * compute == pytest.approx(busy)
    assert sum(u == 0.0 for u in util) == 11
