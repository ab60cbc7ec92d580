"""The graph-cut strategy: its cut, its balance and its placement, checked against numbers
computed here from the masks and the plan's owners (not from ``nnmap.analysis``).

A graph-cut core computes whole neurons, so a hidden value ``j`` goes from its owner to every
other core that owns a neuron of the next layer connected to it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from epiphany_sim.config import E16, E64, load_chip
from epiphany_sim.mesh import Coord
from nnmap.cli import main
from nnmap.graphcut.partition import BALANCE_TOLERANCE
from nnmap.mapping import plan_for
from nnmap.model import Network, random_inputs, random_network
from nnmap.plan import Plan
from nnmap.run import run
from nnmap.sparsity import shuffle_hidden, sparsify


def _hops(a: Coord, b: Coord) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def _owner(plan: Plan, li: int) -> list[int]:
    return [plan.layers[li].owner[j] for j in range(plan.net.sizes[li + 1])]


def _sends(plan: Plan, layers: range | None = None) -> list[tuple[int, int]]:
    """``(from, to)`` chain positions of every value of the hidden ``layers`` (all) sent per sample."""
    out = []
    for li in layers or range(len(plan.net.layers) - 1):
        here, after = _owner(plan, li), _owner(plan, li + 1)
        mask = plan.net.layers[li + 1].mask
        assert mask is not None
        for j in range(len(here)):
            readers = {after[t] for t in np.flatnonzero(mask[j])} - {here[j]}
            out += [(here[j], q) for q in sorted(readers)]
    return out


def _edges_cut(plan: Plan) -> int:
    total = 0
    for li in range(1, len(plan.net.layers)):
        mask = plan.net.layers[li].mask
        assert mask is not None
        before, here = _owner(plan, li - 1), _owner(plan, li)
        total += sum(before[i] != here[j] for i, j in zip(*np.nonzero(mask), strict=True))
    return total


def _block_diagonal(n_cores: int, shuffled: bool) -> Network:
    """As many diagonal blocks as cores: 4 inputs, 4 and 4 hidden and 2 outputs per block."""
    sizes = [4 * n_cores, 4 * n_cores, 4 * n_cores, 2 * n_cores]
    net = sparsify(random_network(sizes, seed=1), 1 - 1 / n_cores, "block")
    return shuffle_hidden(net, seed=9) if shuffled else net


@pytest.mark.slow
@pytest.mark.parametrize("chip", [E16, E64])
@pytest.mark.parametrize("shuffled", [False, True])
def test_a_block_diagonal_network_is_cut_along_its_blocks(chip, shuffled) -> None:
    net = _block_diagonal(chip.n_cores, shuffled)
    result = run(chip, net, "graph-cut", random_inputs(net, 2), baseline=False)
    plan = result.plan
    assert result.metrics["validated"] is True
    assert _edges_cut(plan) == 0
    assert result.metrics["edges_cut"] == 0
    assert result.metrics["hop_bytes"] == 0  # nothing crosses the mesh in the compute phase
    assert result.metrics["imbalance"] == 1.0
    # every block's neurons, in every layer, on one core of their own: follow the masks from
    # each first-layer group of inputs
    masks = [layer.mask for layer in net.layers]
    cores = set()
    for block in range(chip.n_cores):
        frontier = {4 * block}  # an input of the block
        neurons: set[tuple[int, int]] = set()
        for li, mask in enumerate(masks):
            assert mask is not None
            frontier = {int(j) for i in frontier for j in np.flatnonzero(mask[i])}
            neurons |= {(li, j) for j in frontier}
        owners = {plan.layers[li].owner[j] for li, j in neurons}
        assert len(owners) == 1
        assert len(neurons) == 4 + 4 + 2
        cores |= owners
    assert len(cores) == chip.n_cores


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chip", "sizes"),
    [("e16", [32, 48, 48, 8]), ("e16", [64, 64, 64, 16]), ("e64", [128, 256, 256, 10]), ("3x5", [30, 40, 40, 6])],
)
@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.95])
@pytest.mark.parametrize("seed", [0, 1])
def test_on_random_networks_the_cut_is_no_larger_than_contiguous_ranges(chip, sizes, sparsity, seed) -> None:
    """The contiguous ranges' cut counted here from their pieces: a connection is cut when the
    core multiplying it does not own the value it multiplies."""
    net = sparsify(random_network(sizes, seed=seed), sparsity, "random", seed=seed)
    config = load_chip(chip)
    cut = plan_for("graph-cut", config, net)
    ranges = plan_for("partitioned", config, net)
    ranges_cut = 0
    for li in range(1, len(net.layers)):
        owner = _owner(ranges, li - 1)
        for k, pieces in enumerate(ranges.layers[li].pieces):
            ranges_cut += sum(owner[i] != k for piece in pieces for i in piece.inputs)
    assert _edges_cut(cut) <= ranges_cut


@pytest.mark.slow
@pytest.mark.parametrize("pattern", ["random", "banded", "block"])
def test_the_placement_lowers_hop_bytes_against_random_placements(pattern) -> None:
    net = sparsify(random_network([128, 256, 256, 10], seed=1), 0.9, pattern, seed=0)
    plan = plan_for("graph-cut", E64, net)
    sends = _sends(plan)
    placed = sum(_hops(plan.chain[a], plan.chain[b]) for a, b in sends)
    rng = random.Random(0)
    for _ in range(30):
        coords = plan.chain[:]
        rng.shuffle(coords)
        assert placed < sum(_hops(coords[a], coords[b]) for a, b in sends)


@pytest.mark.parametrize(("pattern", "sparsity"), [("random", 0.8), ("random", 0.5), ("banded", 0.9), ("block", 0.95)])
def test_each_layer_is_balanced_within_the_tolerance(pattern, sparsity) -> None:
    """Per layer, each core's compute cycles stay under ``(1 + BALANCE_TOLERANCE)`` times the layer's
    mean share, or under its heaviest neuron where that is larger. A sparse neuron's dot
    product costs 2 cycles per connection, a 3-cycle branch per 8, a 10-cycle call and two
    4-cycle adds; then its bias (4) and its activation (20)."""
    net = sparsify(random_network([64, 64, 64, 16], seed=3), sparsity, pattern, seed=3)
    plan = plan_for("graph-cut", E16, net)
    for li, layer in enumerate(net.layers):
        assert layer.mask is not None
        connections = layer.mask.sum(axis=0)
        cycles = 2 * connections + 3 * np.ceil(connections / 8) + 10 + 8 + 4 + 20
        limit = max((1 + BALANCE_TOLERANCE) * cycles.sum() / 16, cycles.max())
        loads = np.zeros(16)
        for j, k in enumerate(_owner(plan, li)):
            loads[k] += cycles[j]
        assert loads.max() <= limit


@pytest.mark.slow
def test_measured_hop_bytes_and_bytes_are_the_cut_traffic() -> None:
    """With the targeted broadcast every value crosses the mesh once per reader along a
    shortest route: 4 bytes per sample per send, times its hops."""
    net = sparsify(random_network([64, 96, 96, 10], seed=4), 0.9, "banded", seed=4)
    result = run(E64, net, "graph-cut", random_inputs(net, 3), baseline=False)
    sends = _sends(result.plan)
    assert result.metrics["hop_bytes"] == 3 * 4 * sum(
        _hops(result.plan.chain[a], result.plan.chain[b]) for a, b in sends
    )
    assert result.metrics["compute_bytes_on_chip"] == 3 * 4 * len(sends)
    assert result.metrics["edges_cut"] == _edges_cut(result.plan)
    macs = np.zeros(64)
    for li, layer in enumerate(net.layers):
        assert layer.mask is not None
        for j, k in enumerate(_owner(result.plan, li)):
            macs[k] += layer.mask[:, j].sum()
    assert result.metrics["imbalance"] == pytest.approx(macs.max() / macs.mean())


def _compact(indices: list[int], prefix: str = "y") -> str:
    """``[1, 2, 3, 7]`` as ``y1-y3, y7``."""
    groups: list[list[int]] = []
    for i in indices:
        if groups and groups[-1][-1] + 1 == i:
            groups[-1].append(i)
        else:
            groups.append([i])
    return ", ".join(f"{prefix}{g[0]}" if len(g) == 1 else f"{prefix}{g[0]}-{prefix}{g[-1]}" for g in groups)


def test_plan_prints_each_cores_neurons_work_and_readers(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "--chip", "e16", "--layers", "32,48,48,8", "--sparsity", "0.8", "--strategy", "graph-cut"]
    assert main(args) == 0
    text = capsys.readouterr().out
    net = sparsify(random_network([32, 48, 48, 8]), 0.8, "random")
    plan = plan_for("graph-cut", E16, net)
    assert (
        text.splitlines()[0] == "plan: graph-cut (broadcast targeted) of network [32, 48, 48, 8] on e16 (4x4), batch 1"
    )
    for k, coord in enumerate(plan.chain):
        block = text.split(f"core {k} at {coord} (chain position {k}):\n", 1)[1].split("\ncore ", 1)[0]
        for li, layer in enumerate(net.layers):
            owned = plan.layers[li].owned(k)
            assert layer.mask is not None
            if not owned:
                assert f"  layer {li}: no products" in block
                continue
            lines = block.split(f"  layer {li}: {int(layer.mask[:, owned].sum())} products: ", 1)[1].splitlines()
            assert lines[1] == f"    owns outputs: {_compact(owned)}"
            if li < len(net.layers) - 1:
                readers = sorted({q for a, q in _sends(plan, range(li, li + 1)) if a == k})
                assert lines[2] == f"    outputs read by cores: {_compact(readers, '') or '-'}"
        assert "SRAM: " in block


@pytest.mark.slow
def test_compare_on_a_sparse_model_ranks_every_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = sparsify(random_network([64, 96, 96, 10], seed=2), 0.9, "random", seed=2)
    net.save(tmp_path / "sparse.npz")
    out = tmp_path / "cmp.json"
    assert main(["compare", "--chip", "e16", "--model", str(tmp_path / "sparse.npz"), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "cut edges" in table
    runs = json.loads(out.read_text())["runs"]
    assert {(m["strategy"], m["broadcast"]) for m in runs} >= {("graph-cut", "targeted"), ("partitioned", "bidir")}
    for m in runs:
        assert m["validated"] is True
        assert {"edges_cut", "hop_bytes", "imbalance"} <= set(m)
        assert m["imbalance"] >= 1.0
    by = {(m["strategy"], m["broadcast"]): m for m in runs}
    assert by[("graph-cut", "targeted")]["edges_cut"] <= by[("partitioned", "bidir")]["edges_cut"]


@pytest.mark.slow
def test_run_plots_the_placement(tmp_path: Path) -> None:
    args = ["run", "--chip", "e16", "--layers", "32,48,48,8", "--sparsity", "0.9", "--sparse-pattern", "banded"]
    assert main([*args, "--strategy", "graph-cut", "--plots", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "placement.png").read_bytes().startswith(b"\x89PNG")
