"""The middle layer: a strategy answers a deal, the lowering makes a frozen plan of it, and only
four of the deliveries (``--broadcast``) broadcast.

The network is 6,16,4 on e16. With the partitioned scheme chain core ``k`` owns hidden value
``k`` (6 products each of layer 0) and multiplies hidden values ``4 (k % 4)`` to
``4 (k % 4) + 3`` (products ``[4k, 4k + 4)`` of layer 1, 16 inputs per output).
"""

from __future__ import annotations

import dataclasses

import pytest

from epiphany_sim.config import E16
from nnmap.errors import MappingError
from nnmap.lowering.delivery import make_delivery
from nnmap.lowering.forward import lower
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.plan import Deal
from nnmap.run import simulate
from nnmap.strategies import get_strategy

NET = random_network([6, 16, 4], seed=4)
X = random_inputs(NET, 1, seed=4)


def test_a_strategy_answers_a_deal_and_the_lowering_the_programs() -> None:
    deal = get_strategy("partitioned").deal_network(E16, NET)
    assert isinstance(deal, Deal)
    assert (deal.strategy, deal.broadcast, len(deal.chain)) == ("partitioned", "bidir", 16)
    assert [len(pieces) for pieces in deal.layers[0].pieces] == [1] * 16  # one whole hidden value each
    plan = lower(deal, E16, NET)
    one_call = plan_for("partitioned", E16, NET)
    assert (plan.ops, plan.readback, plan.relays) == (one_call.ops, one_call.readback, one_call.relays)
    assert all(isinstance(ops, tuple) and ops for ops in plan.ops.values())


def test_a_plan_is_not_changed_once_built() -> None:
    plan = plan_for("partitioned", E16, NET)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.ops = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.ops[plan.chain[0]][0] = plan.ops[plan.chain[0]][1]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.layers[0].owner = {}  # type: ignore[misc]


@pytest.mark.parametrize(
    ("broadcast", "feed", "message"),
    [
        ("everywhere", "preload", "unknown broadcast 'everywhere': use one of bidir, oneway, direct, dram, targeted"),
        ("bidir", "pigeon", "unknown feed 'pigeon': use one of preload, host"),
    ],
)
def test_an_unknown_name_is_one_line_naming_the_choices(broadcast: str, feed: str, message: str) -> None:
    with pytest.raises(MappingError) as info:
        plan_for("partitioned", E16, NET, 1, broadcast, feed=feed)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("broadcast", ["bidir", "oneway", "direct", "dram"])
def test_a_broadcast_gives_every_core_the_whole_hidden_vector(broadcast: str) -> None:
    plan = plan_for("partitioned", E16, NET, 1, broadcast)
    chip = simulate(plan, X).session.chip
    name = make_delivery(plan).buffer(0, 0)
    assert [chip.core(c).sram[name].written for c in plan.chain] == [16] * 16


def test_targeted_gives_each_core_only_the_values_it_reads() -> None:
    plan = plan_for("partitioned", E16, NET, 1, "targeted")
    chip = simulate(plan, X).session.chip
    name = make_delivery(plan).buffer(0, 0)
    # what core k multiplies, and its own value, which it stores itself
    want = [len(set(range(4 * (k % 4), 4 * (k % 4) + 4)) | {k}) for k in range(16)]
    assert [chip.core(c).sram[name].written for c in plan.chain] == want


def test_stream_gives_the_vector_to_the_next_layer_s_cores_alone() -> None:
    plan = plan_for("pipeline", E16, NET, 1, "stream")
    chip = simulate(plan, X).session.chip
    name = make_delivery(plan).buffer(0, 0)
    readers = [k for k, pieces in enumerate(plan.layers[1].pieces) if pieces]
    others = [k for k in range(16) if k not in readers and plan.layers[0].owned(k)]
    assert readers
    assert others
    assert all(chip.core(plan.chain[k]).sram[name].written == 16 for k in readers)
    # a core of layer 0's group keeps only the values it computes itself
    assert all(chip.core(plan.chain[k]).sram[name].written == len(plan.layers[0].owned(k)) for k in others)
