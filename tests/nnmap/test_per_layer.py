"""Strategies per layer, pipeline groups by weights, chains in other orders: each deals what it says and validates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from epiphany_sim.config import E16, chip_from_name
from nnmap.cli import main
from nnmap.errors import MappingError
from nnmap.lowering.forward import default_chain
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.strategies import get_strategy

SIZES = [7, 12, 5]


def test_each_layer_is_dealt_by_its_own_strategy() -> None:
    """The mix deals layer 0 exactly as partitioned alone does and layer 1 exactly as node-per-core alone does."""
    net = random_network(SIZES, seed=1)
    mixed = plan_for("partitioned+node-per-core", E16, net)
    alone = [plan_for(name, E16, net) for name in ("partitioned", "node-per-core")]
    for li in range(2):
        assert mixed.layers[li].pieces == alone[li].layers[li].pieces
        assert mixed.layers[li].owner == alone[li].layers[li].owner
    assert mixed.strategy == "partitioned+node-per-core"


@pytest.mark.parametrize(
    ("name", "broadcast", "chip"),
    [
        ("partitioned+node-per-core", "bidir", "e16"),
        ("node-per-core+partitioned", "oneway", "2x3"),
        ("round-robin+allgather", "direct", "e16"),
        ("allgather+round-robin", "targeted", "1x2"),
        ("partitioned+round-robin", "dram", "e16"),
        ("node-per-core+allgather", "stream", "2x3"),
    ],
)
def test_a_mix_hands_values_between_differently_dealt_layers_and_validates(
    name, broadcast, chip, numpy_forward, assert_matches
) -> None:
    net = random_network(SIZES, seed=2)
    x = random_inputs(net, 3, 0)
    result = run(chip_from_name(chip), net, name, x, broadcast, baseline=False)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert result.metrics["strategy"] == name
    assert result.metrics["broadcast"] == broadcast


def test_a_mix_takes_the_broadcasts_its_members_share() -> None:
    """partitioned compares bidir, oneway and dram; allgather direct: the mix compares all four, default bidir."""
    mix = get_strategy("partitioned+allgather")
    assert mix.compared() == ("bidir", "oneway", "dram", "direct")
    assert mix.default_broadcast == "bidir"
    assert get_strategy("allgather+partitioned").default_broadcast == "direct"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("graph-cut+partitioned", "graph-cut maps the whole network at once"),
        ("partitioned+pipeline", "pipeline maps the whole network at once"),
        ("partitioned+nodes", "unknown strategy 'nodes'"),
        ("pipeline=1+x", "takes positive group weights"),
        ("pipeline=0+1", "takes positive group weights"),
        ("pipeline=nan+1", "takes positive group weights"),
    ],
)
def test_bad_strategy_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        get_strategy(name)


@pytest.mark.parametrize("name", ["partitioned+node-per-core+allgather", "pipeline=1+2+3"])
def test_a_name_for_another_number_of_layers_is_refused(name: str) -> None:
    with pytest.raises(MappingError, match="the network has 2 layers"):
        plan_for(name, E16, random_network(SIZES, seed=1))


def test_the_command_line_refuses_a_bad_mix_in_one_line(capsys) -> None:
    assert main(["run", "--layers", "7,12,5", "--strategy", "graph-cut+partitioned"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "graph-cut maps the whole network at once" in err


def _group(plan, li: int) -> list[int]:
    return [k for k, pieces in enumerate(plan.layers[li].pieces) if pieces]


def test_pipeline_groups_follow_the_weights_given() -> None:
    """pipeline=4+12 on e16's 16 cores: layer 0 on chain positions 0-3, layer 1 on 4-15; 1+3 gives the same."""
    net = random_network([64, 40, 10], seed=1)
    for name in ("pipeline=4+12", "pipeline=1+3"):
        plan = plan_for(name, E16, net)
        assert _group(plan, 0) == [0, 1, 2, 3]
        assert _group(plan, 1) == list(range(4, 16))
        assert plan.strategy == name


def test_pipeline_with_weights_validates(numpy_forward, assert_matches) -> None:
    net = random_network([9, 14, 6, 3], seed=3)
    x = random_inputs(net, 4, 1)
    result = run(E16, net, "pipeline=2+1+1", x, baseline=False)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert _group(result.plan, 0) == list(range(8))  # 2:1:1 of 16 cores: 8, 4, 4


@pytest.mark.parametrize("order", ["columns", "hilbert"])
def test_a_chain_in_another_order_validates_and_uses_its_cores(order: str, numpy_forward, assert_matches) -> None:
    net = random_network(SIZES, seed=4)
    x = random_inputs(net, 2, 0)
    chain = default_chain(E16, order)[:4]
    result = run(E16, net, "partitioned", x, baseline=False, chain=chain)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert result.plan.chain == chain


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        ("--strategy", "partitioned+node-per-core", "--chain-order", "hilbert"),
        ("--strategy", "pipeline=3+1", "--chain-order", "columns"),
    ],
)
def test_plan_files_replay_mixes_weights_and_orders(tmp_path: Path, options, capsys) -> None:
    saved = tmp_path / "plan.json"
    common = ["--layers", "7,12,5", "--batch", "2", "--quiet"]
    assert main(["plan", "--layers", "7,12,5", "--save", str(saved), *options]) == 0
    first, again = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["run", *common, *options, "--json", str(first)]) == 0
    assert main(["run", *common, "--plan", str(saved), "--json", str(again)]) == 0
    a, b = json.loads(first.read_text()), json.loads(again.read_text())
    assert a == b
    assert json.loads(saved.read_text())["strategy"] == options[1]
    order = options[3]
    assert [tuple(c) for c in json.loads(saved.read_text())["chain"]] == default_chain(E16, order)
    assert np.isfinite(a["total_cycles"])
