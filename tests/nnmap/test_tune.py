"""nnmap tune: the estimate against hand computations and the simulator, the winner against compare, replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epiphany_sim.config import E16, chip_from_name
from epiphany_sim.errors import SimError
from nnmap.cli import main
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.strategies import all_variants, get_strategy
from nnmap.tune.estimate import Estimate, estimate
from nnmap.tune.search import Budget, Estimated, Neighbours, parse_budget
from nnmap.tune.space import Candidate, core_counts, mapping_space, mixes, pipeline_groups
from nnmap.tune.tune import simulated_first, tune

LAYERS = [6, 16, 4]


def _net_x(batch: int = 1):
    net = random_network(LAYERS, "sigmoid", "sigmoid", 0)
    return net, random_inputs(net, batch, 0)


def test_setup_estimate_of_one_core_matches_the_hand_computation():
    """6,16,4 on one e16 core, one sample, loaded through the DRAM.

    The core holds w0 (96 values), b0 (16), w1 (64), b1 (4): 48 + 8 + 32 + 2 = 90
    transactions of 8 bytes; its inputs 6 values, 3 transactions. The host writes the 93
    into its DRAM at 45.5 cycles each: 4,231.5. One core's DMA keeps 4 reads in flight, each
    a round trip of 14 (request) + 100 (DRAM) + 14 (reply packet) = 128 cycles: one per 32
    cycles, slower than the eLink's 14. Parameters: 90 * 32 + 350.5 (DMA setup) + 100
    (DRAM latency) + 5 (poll) = 3,335.5; inputs: 3 * 32 + 455.5 = 551.5.
    Setup: 4,231.5 + 3,335.5 + 551.5 = 8,118.5. The parameters go first: the host writes them
    (90 * 45.5 = 4,095) and the core fetches them, so they have landed at 4,095 + 3,335.5.
    """
    net, x = _net_x()
    plan = plan_for("partitioned", E16, net, 1, "bidir", [(0, 0)])
    est = estimate(plan, x, "dram")
    assert est.setup == pytest.approx(8118.5)
    assert est.parameters == pytest.approx(4095 + 3335.5)


def test_setup_estimate_through_the_host_library():
    """The same core loaded by the host library: 93 transactions at 313 cycles, 29,109."""
    net, x = _net_x()
    plan = plan_for("partitioned", E16, net, 1, "bidir", [(0, 0)])
    assert estimate(plan, x, "host").setup == pytest.approx(93 * 313)


def test_space_and_search_helpers():
    assert core_counts(16) == [1, 2, 4, 8, 16]
    assert core_counts(59) == [1, 2, 4, 8, 16, 32, 59]
    net = _net_x()[0]
    space = mapping_space(E16, net)
    assert len(set(space)) == len(space)
    # The strategies that mix: partitioned, node-per-core and allgather (graph cut and the pipeline place the whole
    # network, round robin is left out). Two layers: the 3 x 3 pairs but the 3 that repeat one.
    assert len(mixes(2)) == 6
    assert "round-robin" not in "+".join(mixes(2))
    # Five layers: one strategy everywhere but in one layer: 3 strategies x 5 layers x 2 others.
    assert len(mixes(5)) == 30
    whole = len(all_variants())
    mixed = sum(len(get_strategy(m).compared()) for m in mixes(2))
    # One core: every compared variant, one order, 2 loads x 2 feeds; more cores: 3 orders, the mixes and the
    # pipeline's other groups too (each with its one compared broadcast, stream).
    groups = {n: len(pipeline_groups(E16, net, n)) for n in (2, 4, 8, 16)}
    assert len(space) == whole * 4 + sum((whole + mixed + groups[n]) * 3 * 4 for n in (2, 4, 8, 16))
    c = Candidate("partitioned", "bidir", 4, "dram", "preload", "hilbert")
    near = Neighbours(space)(c)
    by_hand = [n for n in space if sum(a != b for a, b in zip(n.axes(), c.axes(), strict=True)) == 1]
    assert sorted(near) == sorted(by_hand)
    # other (strategy, broadcast) pairs on 4 cores; 2, 8 and 16 cores (one core has the rows order only); 2 other
    # orders; 1 other load and feed
    assert len(near) == (whole + mixed + groups[4] - 1) + 3 + 2 + 1 + 1
    assert parse_budget("40") == Budget(candidates=40)
    assert parse_budget("2.5s") == Budget(seconds=2.5)
    for bad in ("0", "abc", "-3", "1.5", "0s"):
        with pytest.raises(SimError):
            parse_budget(bad)


@pytest.fixture(scope="module")
def small_tune():
    net, x = _net_x(4)
    return net, x, tune(E16, net, x, mapping_space(E16, _net_x()[0]), "total", top=6, workers=0)


def test_estimate_error_is_reported_and_within_20_percent(small_tune):
    _, _, result = small_tune
    assert len(result.rows) == 6
    for row in result.rows:
        simulated = row.metrics["total_cycles"]
        assert row.errors["total_cycles"] == pytest.approx((row.estimate.total - simulated) / simulated)
        assert abs(row.errors["total_cycles"]) <= 0.20


def test_winner_is_never_slower_than_the_best_of_compare(small_tune):
    """compare runs every variant on the whole chip with the default load; tune's simulated winner is not slower."""
    net, x, result = small_tune
    best = min(run(E16, net, name, x, bc, baseline=False).metrics["total_cycles"] for name, bc in all_variants())
    assert result.winner is not None
    assert result.winner.metrics["validated"]
    assert result.winner.metrics["total_cycles"] <= best


def test_budget_bounds_the_candidates_estimated():
    net, x = _net_x()
    space = mapping_space(E16, _net_x()[0])
    result = tune(E16, net, x, space, "compute", top=1, budget=Budget(candidates=12), workers=0)
    assert len(result.searched.estimated) == 12 < len(space)
    assert result.winner is not None


def test_run_plan_replays_the_winner_exactly(tmp_path: Path, capsys):
    saved, tuned, replayed = tmp_path / "w.json", tmp_path / "t.json", tmp_path / "r.json"
    common = ["--layers", "6,16,4", "--batch", "3", "--quiet"]
    args = ["tune", "--chip", "e16", *common, "--top", "3", "--workers", "0", "--avoid-cores", "1,1"]
    assert main([*args, "--save", str(saved), "--json", str(tuned), "--objective", "per-sample"]) == 0
    assert main(["run", *common, "--plan", str(saved), "--json", str(replayed)]) == 0
    winner = json.loads(tuned.read_text())
    row = next(c for c in winner["candidates"] if c["candidate"] == winner["winner"])
    again = json.loads(replayed.read_text())
    for figure in ("setup_cycles", "compute_cycles", "readback_cycles", "total_cycles", "per_sample_cycles"):
        assert again[figure] == row["simulated"][figure]
    assert again["validated"]
    assert (1, 1) not in [tuple(c) for c in json.loads(saved.read_text())["chain"]]
    out = capsys.readouterr().out
    assert "1 *" in out
    assert "winner (*)" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--budget", "soon"], "--budget"),
        (["--top", "0"], "--top"),
        (["--objective", "fast"], "--objective"),
        (["--save", "/nonexistent-dir/w.json"], "nonexistent-dir"),
        (["--layers", "100000,100000,10"], "does not fit"),
    ],
)
def test_refusals_exit_2_in_one_line_and_write_nothing(tmp_path: Path, capsys, args, words):
    json_path = tmp_path / "t.json"
    base = ["tune", "--chip", "e16", "--workers", "0", "--quiet", "--json", str(json_path)]
    if "--layers" not in args:
        base += ["--layers", "6,16,4"]
    assert main([*base, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert words in err
    assert not json_path.exists()


def test_the_figure_is_drawn(tmp_path: Path):
    png = tmp_path / "t.png"
    assert (
        main(
            [
                "tune",
                "--chip",
                "2x2",
                "--layers",
                "6,8,3",
                "--top",
                "2",
                "--workers",
                "0",
                "--quiet",
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_tune_respects_the_chip_of_a_preset_with_avoided_cores():
    chip = chip_from_name("e16").replace(avoid_cores=[(0, 1)])
    net, x = _net_x()
    result = tune(chip, net, x, mapping_space(chip, net, loads=("dram",), feeds=("preload",)), top=2, workers=0)
    assert all((0, 1) not in r.candidate.chain(chip) for r in result.rows)
    assert core_counts(15)[-1] == max(c.cores for c in mapping_space(chip, net))


@pytest.mark.slow
@pytest.mark.parametrize("avoided", [[(3, 3)], [(0, 0), (2, 5), (4, 4), (7, 1), (6, 7)]], ids=["1", "5"])
def test_tune_on_e64_avoids_its_cores_and_validates(avoided: list[tuple[int, int]]) -> None:
    """With 1 and with 5 unusable cores on e64: every simulated candidate validates and none uses one."""
    chip = chip_from_name("e64").replace(avoid_cores=avoided)
    net, x = _net_x()
    result = tune(chip, net, x, mapping_space(chip, net, loads=("dram",), feeds=("preload",)), top=3, workers=0)
    assert result.winner is not None
    assert all(r.ok for r in result.rows)
    assert all(r.metrics["validated"] for r in result.rows)
    assert not {tuple(c) for c in avoided} & {c for r in result.rows for c in r.candidate.chain(chip)}


def test_pipeline_groups_move_a_quarter_of_one_group_to_another():
    """On 16 cores the work-balanced pipeline's groups (read from its plan) give two others, each a quarter of one
    group (one core at least) moved to the other group."""
    net = _net_x()[0]
    plan = plan_for("pipeline", E16, net)
    balanced = [sum(1 for pieces in layer.pieces if pieces) for layer in plan.layers]
    assert sum(balanced) == 16
    expected = []
    for giver, taker in ((0, 1), (1, 0)):
        moved = max(1, balanced[giver] // 4)
        if balanced[giver] > moved:
            sizes = list(balanced)
            sizes[giver] -= moved
            sizes[taker] += moved
            expected.append("pipeline=" + "+".join(map(str, sizes)))
    assert pipeline_groups(E16, net, 16) == expected


@pytest.mark.slow
def test_search_estimates_what_compare_runs_first_and_mixes_too():
    net, x = _net_x()
    space = mapping_space(E16, net)
    result = tune(E16, net, x, space, "total", top=1, budget=Budget(candidates=150), workers=0)
    estimated = [e.candidate for e in result.searched.estimated]
    registered = {n for n, _ in all_variants()}
    compared = [c for c in space if c.strategy in registered and c.cores == 16 and c.order == "rows"]
    assert len(compared) == len(all_variants()) * 4
    assert set(compared) <= set(estimated)
    assert any("+" in c.strategy for c in estimated)
    assert any(c.order != "rows" for c in estimated)


def test_the_best_of_each_distinct_estimate_is_simulated_first():
    """Four candidates, the second and fourth estimated the same as the first: the third goes before them."""
    same = Estimate(setup=1.0, compute=1.0, readback=1.0, parameters=0.0, batch=1)
    other = Estimate(setup=1.0, compute=2.0, readback=1.0, parameters=0.0, batch=1)
    names = [("pipeline", "rows", same), ("pipeline", "hilbert", same), ("allgather", "rows", other)]
    names.append(("partitioned+node-per-core", "rows", same))
    ranked = [Estimated(Candidate(s, "bidir", 4, "dram", "preload", o), e) for s, o, e in names]
    picked = [(e.candidate.strategy, e.candidate.order) for e in simulated_first(ranked, 3)]
    assert picked == [("pipeline", "rows"), ("allgather", "rows"), ("pipeline", "hilbert")]
