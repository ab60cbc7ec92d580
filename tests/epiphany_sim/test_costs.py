"""Kernel costs from the instruction set, each worked out by hand for the e16 preset
(a 10-cycle call, a 3-cycle taken branch per 8 elements, a 4-cycle FPU latency)."""

from __future__ import annotations

import pytest

from epiphany_sim import E16, costs


@pytest.mark.parametrize(
    ("n", "strided", "expected"),
    [
        (64, False, 10 + 64 + 8 * 3 + 2 * 4),  # one FMADD with one doubleword load per product
        (64, True, 10 + 96 + 8 * 3 + 2 * 4),  # a load per strided element and half a load
        (5, False, 10 + 5 + 1 * 3 + 2 * 4),  # one trip of the loop
        (9, False, 10 + 9 + 2 * 3 + 2 * 4),  # a second trip for the ninth product
    ],
)
def test_a_dot_product(n: int, strided: bool, expected: float) -> None:
    assert costs.dot_cycles(E16, n, strided) == expected


def test_a_short_sum_is_a_chain_of_dependent_adds_and_a_long_one_a_loop() -> None:
    assert costs.sum_cycles(E16, 1) == 4
    assert costs.sum_cycles(E16, 4) == 16
    assert costs.sum_cycles(E16, 16) == 10 + 16 + 2 * 3 + 2 * 4


def test_axpy_copy_and_fill_are_bound_by_their_loads_and_stores() -> None:
    assert costs.axpy_cycles(E16, 16) == 10 + 24 + 2 * 3
    assert costs.copy_cycles(E16, 16) == 10 + 16 + 2 * 3
    assert costs.fill_cycles(E16, 16) == 10 + 8 + 2 * 3


def test_a_block_matrix_multiply_is_bound_by_the_fpu() -> None:
    # 16 x 16: 4096 multiply-adds, 16 tiles each with 2 loop trips and 16 cycles of sums.
    assert costs.matmul_cycles(E16, 16) == 10 + 16**3 + 16 * (2 * 3 + 16)


def test_a_dense_layer_output_spends_over_half_its_cycles_outside_multiply_adds() -> None:
    """A 64-input output: 64 multiply-adds in 130 cycles, with the call, branches, reduction and activation."""
    per_output = costs.dot_cycles(E16, 64) + costs.activation_cycles(E16)
    assert per_output == 106 + 24
    assert 64 / per_output < 0.5


def test_every_cost_follows_the_config() -> None:
    slow = E16.replace(call_cycles=20.0, branch_cycles=5.0, loop_unroll=4, fpu_latency_cycles=6.0)
    assert costs.dot_cycles(slow, 64) == 20 + 64 + 16 * 5 + 2 * 6
    assert costs.activation_cycles(slow) == 6 + slow.cycles_per_activation
