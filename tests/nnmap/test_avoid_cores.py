"""Avoided cores: every strategy maps around them, nothing runs or is kept on them, traffic still crosses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epiphany_sim.config import E64, load_chip
from epiphany_sim.errors import ConfigError
from epiphany_sim.mesh import INJECT_KINDS, core_node, router
from nnmap.cli import main
from nnmap.errors import MappingError
from nnmap.lowering.forward import default_chain
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.strategies import all_variants

ONE = ((0, 3),)
FIVE = ((0, 3), (2, 2), (3, 0), (4, 5), (7, 7))


@pytest.mark.parametrize("avoided", [ONE, FIVE], ids=["1 avoided", "5 avoided"])
@pytest.mark.parametrize(("strategy", "broadcast"), all_variants())
def test_every_variant_validates_around_avoided_cores(strategy, broadcast, avoided, numpy_forward, assert_matches):
    chip = E64.replace(avoid_cores=avoided)
    net = random_network([64, 40, 10], "sigmoid", "sigmoid", 0)
    x = random_inputs(net, 2, 0)
    result = run(chip, net, strategy, x, broadcast, baseline=False)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert not set(result.plan.chain) & set(avoided)
    assert len(result.plan.chain) == 64 - len(avoided)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "broadcast", "order"),
    [("allgather+partitioned", "direct", "hilbert"), ("pipeline=1+3", "stream", "columns")],
)
def test_mixes_weights_and_orders_validate_around_avoided_cores(
    strategy, broadcast, order, numpy_forward, assert_matches
):
    chip = E64.replace(avoid_cores=FIVE)
    net = random_network([64, 40, 10], "sigmoid", "sigmoid", 0)
    x = random_inputs(net, 2, 0)
    result = run(chip, net, strategy, x, broadcast, baseline=False, chain=default_chain(chip, order)[:16])
    assert_matches(result.outputs, numpy_forward(net, x))
    for coord in FIVE:
        assert result.chip.core(coord).activities == []
        assert result.chip.core(coord).sram.buffers == {}


def test_an_avoided_core_is_idle_and_empty_but_routes_traffic():
    """Partitioned on e64 with core (0, 3) avoided: the snake goes (0, 2) -> (0, 4), two hops east
    through router (0, 3), so the partial sums handed along the chain cross it."""
    chip = E64.replace(avoid_cores=ONE)
    net = random_network([64, 40, 10], "sigmoid", "sigmoid", 0)
    result = run(chip, net, "partitioned", random_inputs(net, 2, 0), baseline=False)
    core = result.chip.core((0, 3))
    assert core.activities == []
    assert core.sram.buffers == {}
    mesh, links = result.chip.mesh, result.chip.fabric.links
    own = [mesh.link(kind, core_node((0, 3)), router((0, 3))) for kind in INJECT_KINDS] + [
        mesh.link(kind, router((0, 3)), core_node((0, 3))) for kind in ("eject", "reject", "xeject")
    ]
    assert all(links[i].transactions == 0 for i in own)
    through = links[mesh.link("cmesh", router((0, 2)), router((0, 3)))].transactions
    onward = links[mesh.link("cmesh", router((0, 3)), router((0, 4)))].transactions
    assert through > 0
    assert onward > 0


def test_the_snake_skips_avoided_cores(snake):
    chip = E64.replace(avoid_cores=FIVE)
    assert default_chain(chip) == [c for c in snake(8, 8) if c not in FIVE]
    assert default_chain(E64) == snake(8, 8)


def test_a_given_chain_through_an_avoided_core_is_refused():
    chip = E64.replace(avoid_cores=ONE)
    net = random_network([8, 4], "sigmoid", "sigmoid", 0)
    with pytest.raises(MappingError, match=r"core \(0, 3\) is one e64 avoids"):
        plan_for("partitioned", chip, net, chain=[(0, 2), (0, 3)])


@pytest.mark.parametrize(
    ("avoid", "message"),
    [
        ([(8, 0)], "outside the 8x8 mesh"),
        ([(1, 1), (1, 1)], "listed twice"),
        ([(1,)], "pair"),
        ([(1, 1.5)], "integer"),
        ("0,1", "list of"),
        ([(r, c) for r in range(8) for c in range(8)], "leaves none"),
    ],
)
def test_config_refuses_bad_avoided_cores(avoid, message):
    with pytest.raises(ConfigError, match=message):
        E64.replace(avoid_cores=avoid)


def test_avoided_cores_are_sorted_and_counted():
    chip = E64.replace(avoid_cores=[[5, 5], (0, 3)])
    assert chip.avoid_cores == ((0, 3), (5, 5))
    assert chip.usable_cores == 62


def test_a_chip_file_sets_avoided_cores_and_the_flag_replaces_them(tmp_path: Path):
    path = tmp_path / "chip.toml"
    path.write_text("[chip]\navoid_cores = [[0, 3], [5, 5]]\n")
    assert load_chip("e64", path).avoid_cores == ((0, 3), (5, 5))
    assert load_chip("e64", path, avoid_cores="1,1").avoid_cores == ((1, 1),)
    assert load_chip("e64", path, avoid_cores="").avoid_cores == ()


def test_the_flag_reaches_the_mapping(tmp_path: Path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", "--chip", "e64", "--avoid-cores", "5,5; 0,3", "--layers", "8,6,4", "--save", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["avoid_cores"] == [[0, 3], [5, 5]]
    assert len(saved["chain"]) == 62
    assert [0, 3] not in saved["chain"]
    assert [5, 5] not in saved["chain"]


@pytest.mark.parametrize(
    ("value", "message"),
    [("0,x", "is not ROW,COL"), ("9,9", "outside the 8x8 mesh"), ("1,1;1,1", "listed twice"), ("3", "ROW,COL")],
)
@pytest.mark.parametrize("command", [["run"], ["plan"], ["compare"], ["train"], ["rnn"]])
def test_a_bad_flag_is_one_line_and_status_2(command, value, message, capsys):
    assert main([*command, "--chip", "e64", "--avoid-cores", value]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_training_and_recurrent_runs_avoid_the_cores(tmp_path: Path, capsys):
    """The trainers and the recurrent runs choose their cores from the snake; the centre (2, 2), the
    parameter server's core, is avoided, so the server moves to a usable core nearest it."""
    avoid = "2,2;0,0;1,1"
    for trainer in ("sync", "hogwild", "dni", "per-neuron", "partitioned", "pipeline"):
        code = main(
            ["train", "--avoid-cores", avoid, "--dataset", "iris", "--samples", "24", "--layers", "6"]
            + ["--epochs", "1", "--strategy", trainer]
        )
        assert code == 0, capsys.readouterr().err
    assert main(["rnn", "--avoid-cores", avoid, "--layers", "2", "--hidden", "8", "--steps", "4"]) == 0
