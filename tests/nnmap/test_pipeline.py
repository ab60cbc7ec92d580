"""The layer pipeline: groups of cores per layer, values streamed between them, credits back.

Group sizes are checked against an exhaustive search of every split, the deal inside a
group against the partitioned formula, outputs against numpy, and the overlap of samples
from the cores' own records; a plan with one wait taken out computes NaN, and one whose
credits are taken out overwrites values not yet read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from epiphany_sim.config import load_chip
from nnmap.cli import main
from nnmap.errors import MappingError
from nnmap.lowering.delivery import DEPTH, spread
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.plan import Plan
from nnmap.programs import Wait, WaitFlags
from nnmap.run import run, simulate, validate
from nnmap.segments import Forward
from nnmap.strategies.pipeline import group_sizes

E16, E64 = load_chip("e16"), load_chip("e64")


def _best_max_share(work: list[float], n_cores: int) -> float:
    """The least largest ``work / cores`` over every split of ``n_cores`` into one or more per layer, by search."""
    best = float("inf")
    for cut in itertools.combinations(range(1, n_cores), len(work) - 1):
        sizes = np.diff([0, *cut, n_cores])
        best = min(best, max(w / s for w, s in zip(work, sizes, strict=True)))
    return best


@pytest.mark.parametrize(
    ("work", "n_cores"),
    [([3.0, 1.0], 4), ([16640.0, 2180.0], 64), ([5.0, 9.0, 1.0], 7), ([1.0, 1.0, 1.0], 3), ([7.0, 2.0, 4.0], 16)],
)
def test_group_sizes_leave_the_least_busiest_share(work, n_cores) -> None:
    sizes = group_sizes(work, n_cores)
    assert sum(sizes) == n_cores
    assert min(sizes) >= 1
    assert max(w / s for w, s in zip(work, sizes, strict=True)) == pytest.approx(_best_max_share(work, n_cores))


def _computing(plan: Plan, layer: int) -> list[int]:
    return [k for k, pieces in enumerate(plan.layers[layer].pieces) if pieces]


@pytest.mark.parametrize(("chip", "sizes"), [(E16, [6, 16, 4]), (E64, [64, 256, 256, 10]), (E16, [9, 30, 20, 7, 3])])
def test_each_layer_sits_on_its_own_run_of_the_chain_dealt_in_equal_ranges(chip, sizes, product_range) -> None:
    plan = plan_for("pipeline", chip, random_network(sizes), 1)
    groups = [_computing(plan, li) for li in range(len(sizes) - 1)]
    assert [k for group in groups for k in group] == list(range(chip.n_cores))  # consecutive, disjoint, in order
    for li, group in enumerate(groups):
        total = sizes[li] * sizes[li + 1]
        for c, k in enumerate(group):
            share = product_range(c, total, len(group))
            assert plan.layers[li].products(k) == len(share)
            first = plan.layers[li].pieces[k][0]
            assert first.j * sizes[li] + first.start == share.start  # the range starts where the formula says


def test_fewer_cores_than_layers_deal_every_layer_over_all_of_them() -> None:
    net = random_network([5, 4, 3, 2])
    plan = plan_for("pipeline", load_chip("1x2"), net, 1)
    partitioned = plan_for("partitioned", load_chip("1x2"), net, 1)
    assert [a.pieces for a in plan.layers] == [a.pieces for a in partitioned.layers]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chip", "sizes", "batch", "feed"),
    [
        (E16, [6, 16, 4], 7, "preload"),
        (E16, [6, 16, 4], 7, "host"),
        (E16, [20, 3, 30, 5], 5, "host"),  # a narrow layer: cores strictly inside one output
        (E64, [64, 128, 64, 10], 6, "preload"),
        (load_chip("3x5"), [9, 13, 8, 4], 4, "host"),
    ],
)
def test_outputs_equal_numpy(chip, sizes, batch, feed, numpy_forward, assert_matches) -> None:
    net = random_network(sizes, "tanh", "sigmoid", seed=4)
    x = random_inputs(net, batch, seed=4) * 4 - 2
    result = run(chip, net, "pipeline", x, baseline=False, feed=feed)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert result.metrics["validated"] is True
    assert result.metrics["broadcast"] == "stream"


def _spans(result, layer: int, sample: int) -> tuple[float, float]:
    """First start and last end of what any core did in ``layer`` of ``sample``, from the cores' records."""
    acts = [a for core in result.chip.cores for a in core.activities if a.segment == Forward(layer, sample)]
    return min(a.start for a in acts), max(a.end for a in acts)


@pytest.fixture(scope="module")
def streamed():
    net = random_network([16, 48, 32, 8], seed=2)
    return run(E16, net, "pipeline", random_inputs(net, 10, seed=2), baseline=False)


def test_layers_work_on_different_samples_at_once(streamed) -> None:
    """Layer 1's group works on an earlier sample while layer 0's works on sample s: at most as
    many samples earlier as the stream keeps copies of a vector (layer 1, relaying every value
    along its seven cores, is the slower stage here, so layer 0 runs ahead until its copies are
    all in use)."""
    for s in range(2, 9):
        start0, end0 = _spans(streamed, 0, s)
        behind = [d for d in range(1, DEPTH + 1) if s - d >= 0]
        overlaps = [
            max(start0, _spans(streamed, 1, s - d)[0]) < min(end0, _spans(streamed, 1, s - d)[1]) for d in behind
        ]
        assert any(overlaps), f"layer 0 of sample {s} overlaps no earlier sample's layer 1"


def test_fill_drain_and_steady_state_from_the_records(streamed) -> None:
    m = streamed.metrics
    start, end = streamed.phases.span("compute")
    last_layer, batch = 2, 10
    done = [_spans(streamed, last_layer, s)[1] for s in range(batch)]
    assert m["fill_cycles"] == done[0] - start
    assert m["steady_cycles_per_sample"] == pytest.approx((done[-1] - done[0]) / (batch - 1))
    assert m["drain_cycles"] == end - _spans(streamed, 0, batch - 1)[1]
    assert start + m["fill_cycles"] + (batch - 1) * m["steady_cycles_per_sample"] == pytest.approx(done[-1])
    assert 0 < m["steady_cycles_per_sample"] < m["fill_cycles"]  # samples leave faster than one crosses
    assert m["layer_cores"] == [len(_computing(streamed.plan, li)) for li in range(3)]


def test_a_missing_wait_computes_nan() -> None:
    """The first core of layer 1's group no longer waits for layer 0's values: it multiplies NaN."""
    net = random_network([6, 16, 4], seed=1)
    x = random_inputs(net, 3, seed=1)
    plan = plan_for("pipeline", E16, net, 3)
    k = _computing(plan, 1)[0]
    coord = plan.chain[k]
    waits = [i for i, op in enumerate(plan.ops[coord]) if isinstance(op, Wait) and op.buffer.startswith("h0")]
    assert len(waits) == 3  # one per sample
    plan = dataclasses.replace(
        plan, ops={**plan.ops, coord: plan.ops[coord][: waits[0]] + plan.ops[coord][waits[0] + 1 :]}
    )
    out = simulate(plan, x).outputs
    assert np.isnan(out[0]).any()
    assert validate(out, net.forward(x))[1] is False


@pytest.mark.slow
def test_missing_credits_let_the_first_group_overwrite_values_not_yet_read() -> None:
    """Layer 0 is cheap and layer 1 dear: without the credit waits layer 0 runs ahead and
    writes later samples into copies layer 1 has not read."""
    net = random_network([4, 64, 64, 2], seed=3)
    x = random_inputs(net, 12, seed=3)
    plan = plan_for("pipeline", load_chip("2x3"), net, len(x))
    assert simulate(plan, x).outputs == pytest.approx(net.forward(x), abs=1e-5)
    ops = {coord: tuple(op for op in plan.ops[coord] if not isinstance(op, WaitFlags)) for coord in plan.chain}
    plan = dataclasses.replace(plan, ops=ops)
    out = simulate(plan, x).outputs
    assert np.all(np.isfinite(out))
    assert validate(out, net.forward(x))[1] is False


@pytest.mark.parametrize(
    ("members", "sources"), [([3, 4, 5, 6], [0, 1, 2]), ([0, 1, 2, 3], [0, 1, 2, 3]), ([1, 4, 6], [0, 2, 5, 7])]
)
def test_spread_reaches_every_member_once(members, sources) -> None:
    """Follow each source's message through the relay rules by hand."""
    sp = spread(members, sources)
    relay = {(at, src): dst for at, src, dst in sp.rules}
    for p in sources:
        got = []
        frontier = [(q, p) for q in sp.targets[p]]
        while frontier:
            at, src = frontier.pop()
            got.append(at)
            if (at, src) in relay:
                frontier.append((relay[(at, src)], at))
        assert sorted(got) == [m for m in members if m != p]


@pytest.mark.slow
def test_a_streamed_batch_larger_than_the_sram_holds(numpy_forward, assert_matches) -> None:
    """64 inputs of 200 samples (51 KB) do not fit a 32 KB core: preloaded they are refused, streamed they run."""
    net = random_network([64, 32, 10], seed=5)
    x = random_inputs(net, 200, seed=5)
    with pytest.raises(Exception, match="does not fit e16"):
        plan_for("pipeline", E16, net, len(x))
    result = run(E16, net, "pipeline", x, baseline=False, feed="host")
    assert_matches(result.outputs, numpy_forward(net, x))
    assert result.metrics["feed"] == "host"


def test_a_group_that_cannot_hold_its_weights_is_one_line_and_status_2(tmp_path: Path) -> None:
    """32,512,128,10 fits e16 layer by layer (partitioned over all 16 cores), but the 512 x 128
    weights on the cores the pipeline gives the middle layer do not."""
    out, err = io.StringIO(), io.StringIO()
    path = tmp_path / "run.json"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            ["run", "--chip", "e16", "--layers", "32,512,128,10", "--strategy", "pipeline", "--json", str(path)]
        )
    assert code == 2
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert "does not fit e16" in lines[0]
    assert "chain position" in lines[0]
    assert not path.exists()
    assert main(["plan", "--chip", "e16", "--layers", "32,512,128,10", "--strategy", "partitioned"]) == 0


def test_the_command_line_lets_a_streamed_batch_past_the_input_bound(capsys: pytest.CaptureFixture[str]) -> None:
    """120 samples of 64 inputs take 30,720 bytes, more than an e16 core's 28,672: refused when
    preloaded, planned when the host streams them in three rows at a time."""
    args = ["plan", "--chip", "e16", "--layers", "64,32,10", "--strategy", "pipeline", "--batch", "120"]
    assert main(args) == 2
    assert "holds every sample's inputs, 30720 bytes, but has 28672 bytes free" in capsys.readouterr().err
    assert main([*args, "--feed", "host"]) == 0


def test_run_prints_and_writes_the_stream_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.json"
    code = main(
        ["run", "--chip", "e16", "--layers", "6,16,4", "--strategy", "pipeline", "--batch", "4", "--json", str(path)]
    )
    assert code == 0
    m = json.loads(path.read_text())
    line = capsys.readouterr().out.splitlines()[-1]
    cores = "+".join(map(str, m["layer_cores"]))
    assert line == (
        f"  stream over {cores} cores by layer: fill {m['fill_cycles']:.0f} cycles, "
        f"{m['steady_cycles_per_sample']:.0f} cycles per sample in the steady state, drain {m['drain_cycles']:.0f}"
    )


@pytest.mark.slow
def test_pipeline_beats_layer_by_layer_on_a_streamed_batch_on_e64() -> None:
    """64,256,256,10 on e64, 32 samples streamed in by the host: the pipeline's steady state
    against the partitioned scheme's cycles per sample (about 9,900 against 24,200 cycles; 64
    samples give 9,900 against 24,400; ``benchmarks/bench_layerwise.py`` measures the batch of 256)."""
    net = random_network([64, 256, 256, 10], seed=0)
    x = random_inputs(net, 32, seed=0)
    pipeline = run(E64, net, "pipeline", x, baseline=False, feed="host").metrics
    partitioned = run(E64, net, "partitioned", x, baseline=False, feed="host").metrics
    assert pipeline["validated"]
    assert partitioned["validated"]
    assert pipeline["steady_cycles_per_sample"] < partitioned["compute_cycles"] / 32


def test_a_pipeline_refuses_a_broadcast_that_lets_a_group_overwrite_what_its_readers_need() -> None:
    """With two copies of each hidden vector (``bidir``) nothing held layer 0's one core back: on a
    1x2 mesh it wrote sample 2's hidden value over sample 0's while layer 1's core, four outputs
    long, still read it. ``stream`` (credits) and ``targeted`` (a copy per sample) validate."""
    net = random_network([1, 1, 4], "sigmoid", "sigmoid", 0)
    x = random_inputs(net, 3, seed=0)
    chip = load_chip("1x2")
    with pytest.raises(MappingError, match="strategy pipeline does not support broadcast 'bidir'"):
        run(chip, net, "pipeline", x, "bidir", baseline=False)
    for broadcast in ("stream", "targeted"):
        assert run(chip, net, "pipeline", x, broadcast, baseline=False).metrics["validated"]
