"""Stacked recurrent networks on the chip: both orders against numpy, the bands, the groups, NaN from a skipped wait.

The reference is the plain numpy Elman stack of ``conftest.py`` (``numpy_rnn``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from epiphany_sim.config import load_chip
from nnmap.errors import MappingError
from nnmap.mapping import plan_stack
from nnmap.plan import RecurrentPlan
from nnmap.recurrent.model import RecurrentStack, load_stack, random_sequence, random_stack
from nnmap.recurrent.plan import core_groups
from nnmap.recurrent.run import run_orders, simulate_order
from nnmap.run import validate


def _case(depth: int, hidden: int, n_in: int, steps: int, seed: int = 3) -> tuple[RecurrentStack, np.ndarray]:
    stack = random_stack(depth, hidden, n_in, seed)
    return stack, random_sequence(stack, steps, seed)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chip", "shape"),
    [
        ("e16", (3, 12, 7, 5)),  # groups of 6, 5, 5 cores: the input part of a cell is not a whole number of pieces
        ("e64", (3, 16, 8, 4)),
        ("2x3", (6, 4, 3, 3)),  # a core per layer
    ],
)
def test_both_orders_equal_numpy_for_every_layer_and_step(
    chip: str, shape: tuple[int, ...], numpy_rnn, assert_matches
) -> None:
    stack, x = _case(*shape)
    result = run_orders(load_chip(chip), stack, x)
    expected = numpy_rnn(stack, x)
    for order, run in result.runs.items():
        assert run.states.shape == expected.shape, order
        assert_matches(run.states.reshape(len(x) * stack.depth, -1), expected.reshape(len(x) * stack.depth, -1))
        assert run.metrics["validated"] is True
    assert result.metrics["validated"] is True


@pytest.fixture(scope="module")
def three_by_sixteen():
    """L=3, T=16 on an idle e16: the acceptance case of the wavefront."""
    stack, x = _case(3, 16, 16, 16)
    return run_orders(load_chip("e16"), stack, x)


@pytest.mark.slow
def test_the_wavefront_is_faster_and_near_the_ideal(three_by_sixteen) -> None:
    serial = three_by_sixteen.metrics["serial"]["compute_cycles"]
    wavefront = three_by_sixteen.metrics["wavefront"]["compute_cycles"]
    assert wavefront < serial
    ideal = 3 * 16 / (3 + 16 - 1)
    assert 1 < serial / wavefront <= ideal
    assert three_by_sixteen.metrics["ideal_speedup"] == pytest.approx(ideal)
    assert three_by_sixteen.metrics["speedup"] == pytest.approx(serial / wavefront)


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_the_wavefront_runs_a_band_together_and_the_serial_order_one_cell_at_a_time(three_by_sixteen) -> None:
    wave = three_by_sixteen.metrics["wavefront"]["cells"]
    for i in range(2):
        for t in range(1, 16):
            assert _overlap(wave[i][t], wave[i + 1][t - 1]), f"L{i}T{t} beside L{i + 1}T{t - 1}"
    serial = three_by_sixteen.metrics["serial"]["cells"]
    order = [serial[i][t] for t in range(16) for i in range(3)]
    for before, after in zip(order, order[1:], strict=False):
        assert before[1] <= after[0]


def test_cells_wait_for_the_cells_they_read(three_by_sixteen) -> None:
    for order in ("serial", "wavefront"):
        cells = three_by_sixteen.metrics[order]["cells"]
        for i in range(3):
            for t in range(16):
                if t:
                    assert cells[i][t][0] >= cells[i][t - 1][1]
                if i:
                    assert cells[i][t][0] >= cells[i - 1][t][1]


def _without(plan: RecurrentPlan, k: int, label: str) -> RecurrentPlan:
    """``plan`` less the one op labelled ``label`` of chain position ``k``'s program."""
    coord = plan.chain[k]
    ops = plan.ops[coord]
    (i,) = [i for i, op in enumerate(ops) if getattr(op, "label", None) == label]
    return dataclasses.replace(plan, ops={**plan.ops, coord: ops[:i] + ops[i + 1 :]})


@pytest.mark.parametrize(
    ("order", "layer", "label"),
    [
        ("serial", 1, "wait h0[0]"),  # the first step's input from the layer below
        ("wavefront", 1, "wait h0[0]"),
        # its own state, the first time copy 0 is read (in the serial order the token from the
        # last layer, and above layer 0 the input, come later still)
        ("wavefront", 0, "wait h0[0]"),
    ],
)
def test_a_core_that_skips_a_wait_reads_nan(order: str, layer: int, label: str, numpy_rnn) -> None:
    stack, x = _case(3, 12, 7, 3)
    plan = plan_stack(load_chip("e16"), stack, len(x), order)
    good = simulate_order(plan, x).states
    k = plan.groups[layer][0]
    broken = simulate_order(_without(plan, k, label), x)
    assert np.isnan(broken.states[layer]).any()
    np.testing.assert_array_equal(broken.states[:layer], good[:layer])
    assert broken.metrics["validated"] is False
    assert validate(broken.states, numpy_rnn(stack, x))[1] is False


def test_the_serial_token_is_what_keeps_the_cells_apart() -> None:
    stack, x = _case(3, 12, 7, 4)
    plan = plan_stack(load_chip("e16"), stack, len(x), "serial")
    for k in plan.groups[0]:
        for t in range(1, len(x)):
            plan = _without(plan, k, f"wait for L2T{t - 1}")
    cells = simulate_order(plan, x).metrics["cells"]
    assert _overlap(cells[0][1], cells[1][0])


@pytest.mark.parametrize(
    ("n_cores", "work", "sizes"),
    [
        (16, [1, 1, 1], [6, 5, 5]),
        (5, [1, 2, 2], [1, 2, 2]),  # each further core to the most multiply-adds per core
        (7, [3, 1], [5, 2]),  # 3/1 = 3 > 1, then 3/2 > 1, 3/3 = 1 (tie: the first), 3/4 < 1, then 3/4 < 1/1 ...
        (3, [5, 5, 5], [1, 1, 1]),
    ],
)
def test_groups_are_consecutive_and_balanced(n_cores: int, work: list[int], sizes: list[int]) -> None:
    groups = core_groups(n_cores, work)
    assert [len(g) for g in groups] == sizes
    assert [k for g in groups for k in g] == list(range(n_cores))


def test_each_group_deals_its_cell_as_the_partitioned_scheme_does(product_range) -> None:
    stack, _ = _case(3, 12, 7, 2)
    plan = plan_stack(load_chip("e16"), stack, 2, "wavefront")
    for i, (assign, group) in enumerate(zip(plan.layers, plan.groups, strict=True)):
        n_in = 7 if i == 0 else 12
        total = (n_in + 12) * 12
        for q in range(len(group)):
            products = [p.j * (n_in + 12) + r for p in assign.pieces[q] for r in p.inputs]
            assert products == list(product_range(q, total, len(group)))


def test_more_layers_than_cores_is_refused() -> None:
    stack, _ = _case(7, 4, 3, 2)
    with pytest.raises(MappingError, match="7 layers need a group of cores each but the chip has 6 cores"):
        plan_stack(load_chip("2x3"), stack, 2, "serial")


def test_a_stack_saved_loads_the_same(tmp_path) -> None:
    stack, _ = _case(2, 5, 3, 1)
    stack.save(tmp_path / "stack.npz")
    with np.load(tmp_path / "stack.npz") as arrays:
        assert sorted(arrays.files) == ["U0", "U1", "W0", "W1", "b0", "b1"]
        np.testing.assert_array_equal(arrays["U1"], stack.layers[1].u)
    again = load_stack(tmp_path / "stack.npz")
    for a, b in zip(again.layers, stack.layers, strict=True):
        for name in ("w", "u", "b"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
