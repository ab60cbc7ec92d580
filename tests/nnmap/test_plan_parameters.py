"""A plan names the buffers that hold parameters, so training never guesses them from names.

The network is 6,16,4 on e16 with the partitioned scheme: in layer 0 every chain core owns
one hidden value (6 products each); in layer 1 chain core ``k`` holds products
``[4k, 4k + 4)`` of output ``k // 4``, so only cores ``4j + 3`` finish (own) an output.
"""

from __future__ import annotations

import numpy as np

from epiphany_sim.config import E16
from nnmap.mapping import plan_for
from nnmap.model import random_network

NET = random_network([6, 16, 4], seed=5)


def test_parameter_buffers_are_the_weights_and_the_owned_biases() -> None:
    plan = plan_for("partitioned", E16, NET)
    for k, coord in enumerate(plan.chain):
        owns_output = k % 4 == 3
        assert plan.parameters[coord] == ["w0", "b0", "w1"] + (["b1"] if owns_output else [])


def test_parameter_buffers_hold_the_network_s_own_numbers() -> None:
    plan = plan_for("partitioned", E16, NET)
    core = plan.chain[7]  # hidden value 7; products 28..31 of output 1, which it finishes
    setup = plan.setup[core]
    np.testing.assert_array_equal(setup["w0"], NET.layers[0].weights[:, 7])
    np.testing.assert_array_equal(setup["b0"], NET.layers[0].bias[[7]])
    np.testing.assert_array_equal(setup["w1"], NET.layers[1].weights[12:16, 1])
    np.testing.assert_array_equal(setup["b1"], NET.layers[1].bias[[1]])
    assert set(plan.parameters[core]) == set(setup)  # the forward plan loads nothing but parameters
