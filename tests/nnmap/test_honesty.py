"""The check is honest: break one step of a plan and the run says so.

Buffers that were never written hold NaN, so a core that reads before its data arrived
computes NaN and validation fails; a message sent to the wrong core leaves the right one
waiting, and the run ends with an error that names it. Plans are data, so each test builds
one, changes a single op on a single core and runs it.

The network is the blog post's 6,16,4 on e16. Layer 0 gives each chain core one hidden node
(6 products); in layer 1 each output has 16 products, 4 per core, so chain core ``k``
holds products ``[4k, 4k + 4)`` of output ``k // 4``: cores ``4j + 1`` and ``4j + 2``
sit strictly inside output ``j``, and core ``4j + 3`` owns it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

import nnmap.programs
from epiphany_sim.config import load_chip
from epiphany_sim.errors import DeadlockError
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.plan import Piece, Plan
from nnmap.programs import Op, Send, Signal, Wait
from nnmap.run import simulate, validate

NET = random_network([6, 16, 4], "sigmoid", "sigmoid", seed=0)
X = random_inputs(NET, 1, seed=0)


def _plan(strategy: str = "partitioned", broadcast: str | None = "bidir") -> Plan:
    return plan_for(strategy, load_chip("e16"), NET, 1, broadcast)


def _core_name(k_index: int, coord: tuple[int, int]) -> str:
    """How the simulator names a core: mesh index, coordinate and Epiphany core id."""
    row, col = coord
    return f"core {k_index} {coord} id 0x{((32 + row) << 6) | (8 + col):03x}"


def _without(ops: Sequence[Op], label: str) -> tuple[Op, ...]:
    """``ops`` less the one op labelled ``label``."""
    (i,) = [i for i, op in enumerate(ops) if getattr(op, "label", None) == label]
    return (*ops[:i], *ops[i + 1 :])


def _edited(plan: Plan, coord: tuple[int, int], ops: Sequence[Op]) -> Plan:
    """``plan`` with the program of ``coord`` replaced by ``ops`` (a plan is never changed in place)."""
    return dataclasses.replace(plan, ops={**plan.ops, coord: tuple(ops)})


def _outputs(plan: Plan) -> np.ndarray:
    return simulate(plan, X).outputs


@dataclasses.dataclass(frozen=True)
class _Delay(nnmap.programs.Kernel):
    """Busy cycles on the core: makes what it sends surely late for a core that does not wait."""

    cycles: float

    def run(self, core):
        yield from core.compute(self.cycles, "delay")


def _delayed(plan: Plan, coords: list) -> Plan:
    """``plan`` with the programs of ``coords`` started 10,000 cycles late."""
    for coord in coords:
        plan = _edited(plan, coord, [_Delay(10_000), *plan.ops[coord]])
    return plan


@pytest.fixture(scope="module")
def reference(numpy_forward) -> np.ndarray:
    return numpy_forward(NET, X)


@pytest.mark.parametrize(
    ("strategy", "broadcast"),
    [
        ("partitioned", "bidir"),
        ("partitioned", "dram"),
        ("round-robin", "bidir"),
        ("allgather", "direct"),
    ],
)
def test_unmodified_plans_validate(strategy, broadcast, reference, assert_matches) -> None:
    out = _outputs(_plan(strategy, broadcast))
    assert_matches(out, reference)
    assert validate(out, NET.forward(X))[1] is True


def test_buffers_never_written_hold_nan() -> None:
    plan = _plan()
    chip = simulate(plan, X).session.chip
    core1 = chip.core(plan.chain[1]).sram
    # one sample uses only slot 0 of the partial-sum buffer; slot 1 was allocated, never written
    assert core1["partial_in1.0"].written == 1
    assert np.isfinite(core1["partial_in1.0"].data).all()
    assert core1["partial_in1.1"].written == 0
    assert np.isnan(core1["partial_in1.1"].data).all()


def test_a_core_inside_an_output_that_skips_its_wait_adds_nan(reference) -> None:
    plan = _plan()
    assert plan.layers[1].pieces[1] == [Piece(0, 4, 4)]  # strictly inside y0: receives and passes on
    good = _outputs(plan)
    c1 = plan.chain[1]
    assert Wait("partial_in1.0", 1, "wait partial y0") in plan.ops[c1]
    plan = _delayed(_edited(plan, c1, _without(plan.ops[c1], "wait partial y0")), [plan.chain[0]])
    out = _outputs(plan)
    # core 1 reaches its sum before core 0's partial arrives: y0 is NaN at its owner, core 3
    assert np.isnan(out[:, 0]).all()
    np.testing.assert_array_equal(out[:, 1:], good[:, 1:])
    max_err, ok = validate(out, NET.forward(X))
    assert ok is False
    assert np.isnan(max_err)


@pytest.mark.parametrize("k", [4, 15])
def test_a_core_that_skips_the_hidden_vector_wait_reads_nan(k) -> None:
    plan = _plan()
    good = _outputs(plan)
    coord = plan.chain[k]
    plan = _delayed(_edited(plan, coord, _without(plan.ops[coord], "wait h0")), [c for c in plan.chain if c != coord])
    out = _outputs(plan)
    broken = k // 4  # the output core k's layer-1 products belong to
    assert np.isnan(out[:, broken]).all()
    others = [j for j in range(4) if j != broken]
    np.testing.assert_array_equal(out[:, others], good[:, others])
    assert validate(out, NET.forward(X))[1] is False


def test_an_owner_that_skips_its_wait_for_gathered_partials_reads_nan() -> None:
    plan = _plan("round-robin", "bidir")
    good = _outputs(plan)
    # round robin deals product 16j + i of layer 1 to core (16j + i) mod 16 = i: each output
    # has one product on every core, and y3's turn to own goes to its fourth contributor
    assert plan.layers[1].contributors(3) == list(range(16))
    assert plan.layers[1].owner[3] == 3
    coord = plan.chain[3]
    plan = _edited(plan, coord, _without(plan.ops[coord], "wait partials y3"))
    out = _outputs(plan)
    assert np.isnan(out[:, 3]).all()
    np.testing.assert_array_equal(out[:, :3], good[:, :3])
    assert validate(out, NET.forward(X))[1] is False


def test_a_partial_sum_sent_to_the_wrong_core_leaves_the_right_one_waiting() -> None:
    plan = _plan()
    c0 = plan.chain[0]
    (i,) = [i for i, op in enumerate(plan.ops[c0]) if isinstance(op, Send) and op.label == "partial y0"]
    assert plan.ops[c0][i].dst == plan.chain[1]
    plan = _edited(
        plan, c0, [*plan.ops[c0][:i], dataclasses.replace(plan.ops[c0][i], dst=plan.chain[2]), *plan.ops[c0][i + 1 :]]
    )
    with pytest.raises(DeadlockError) as info:
        simulate(plan, X)
    assert info.value.waiting == [f"{_core_name(1, (0, 1))} waits for partial_in1.0 to reach 1 writes (has 0)"]


def test_a_hidden_value_never_shared_stalls_every_other_core() -> None:
    plan = _plan()
    c0 = plan.chain[0]  # the chain's end: its only neighbour is chain core 1
    plan = _edited(plan, c0, _without(plan.ops[c0], "share h0[0:1]"))
    with pytest.raises(DeadlockError) as info:
        simulate(plan, X)
    expected = {
        f"{_core_name(4 * r + c, (r, c))} waits for h0.0 to reach 16 writes (has 15)"
        for r in range(4)
        for c in range(4)
        if (r, c) != (0, 0)
    }
    assert sorted(info.value.waiting) == sorted(expected)


def _without_flag(plan: Plan, k: int) -> Plan:
    coord = plan.chain[k]
    return _edited(plan, coord, [op for op in plan.ops[coord] if not isinstance(op, Signal)])


def test_a_dram_flag_never_raised_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nnmap.programs.interpreter, "MAX_POLLS", 20)  # the default takes 10,000 polls of the eLink
    plan = _plan("partitioned", "dram")
    plan = _without_flag(plan, 5)
    with pytest.raises(DeadlockError) as info:
        simulate(plan, X)
    flags = ", ".join("nan" if k == 5 else "1.0" for k in range(16))
    assert f"polled dram_flag0 20 times; flags still [{flags}]" in str(info.value)
