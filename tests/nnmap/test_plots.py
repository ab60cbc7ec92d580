"""The data behind the figures, checked against what the plan lets us work out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from epiphany_sim.config import load_chip
from epiphany_sim.mesh import MESH_KINDS
from nnmap import analysis, plots
from nnmap.model import random_network
from nnmap.run import RunResult, run
from nnmap.segments import Forward

SIZES = [8, 17, 3]  # 17 hidden nodes on 16 cores: the first core of the chain gets two


@pytest.fixture(scope="module")
def node_per_core() -> RunResult:
    return run(
        load_chip("e16"),
        random_network(SIZES, "sigmoid", "sigmoid", 0),
        "node-per-core",
        broadcast="bidir",
        trace=True,
        baseline=False,
    )


def _outputs_per_position(n_out: int, n_cores: int) -> list[int]:
    return [len(range(k, n_out, n_cores)) for k in range(n_cores)]


def test_utilisation_grid_shows_the_less_busy_cores(node_per_core: RunResult) -> None:
    result = node_per_core
    cfg = result.plan.config
    n_in, n_hidden, n_out = SIZES
    # An output: its dot product (a cycle per product, a branch per 8, the call, two adds to
    # reduce), then its bias (one add) and its activation.
    per_output = [
        n + -(-n // 8) * cfg.branch_cycles + cfg.call_cycles + 3 * cfg.fpu_latency_cycles + cfg.cycles_per_activation
        for n in (n_in, n_hidden)
    ]
    hidden = _outputs_per_position(n_hidden, cfg.n_cores)  # [2, 1, 1, ..., 1]
    final = _outputs_per_position(n_out, cfg.n_cores)  # [1, 1, 1, 0, ..., 0]
    compute = result.phases.compute_end - result.phases.setup_end
    expected = np.zeros((cfg.rows, cfg.cols))
    for k, coord in enumerate(result.plan.chain):
        expected[coord] = (hidden[k] * per_output[0] + final[k] * per_output[1]) / compute
    grid = analysis.utilisation_grid(result)
    assert grid.shape == (4, 4)
    np.testing.assert_allclose(grid, expected)
    # the chain starts (0,0), (0,1), (0,2): the three owners of outputs; everyone else is less busy
    assert grid[0, 0] == grid.max()
    lazy = {tuple(int(v) for v in rc) for rc in np.argwhere(grid == grid.min())}
    assert lazy == {c for c in result.plan.chain[3:]}
    assert grid.min() < 0.5 * grid[0, 1]


def test_busiest_link_is_the_one_the_relay_routes_predict(node_per_core: RunResult) -> None:
    """Bidirectional broadcast: every hidden value walks the snake from its owner to both ends.

    The forward link from chain position k to k+1 carries the values owned at positions
    0..k, the backward one those owned past k: one 4-byte transaction (one cycle) each.
    """
    result = node_per_core
    chain = result.plan.chain
    owned = _outputs_per_position(SIZES[1], len(chain))
    compute = result.phases.compute_end - result.phases.setup_end
    expected: dict[tuple, float] = {}
    for k in range(len(chain) - 1):
        expected[(chain[k], chain[k + 1])] = sum(owned[: k + 1])
        expected[(chain[k + 1], chain[k])] = sum(owned[k + 1 :])
    loads = analysis.link_congestion(result, "compute")
    assert len(loads) == 2 * (4 * 3 + 3 * 4)  # every directed pair of neighbouring routers of a 4x4 mesh
    for load in loads:
        assert load.utilisation * compute == pytest.approx(expected.get((load.src, load.dst), 0.0))
    busiest = max(loads, key=lambda x: x.utilisation)
    assert (busiest.src, busiest.dst) == (chain[14], chain[15]) == ((3, 1), (3, 0))
    assert busiest.name == "r3,1->r3,0"


def test_elink_busy_in_setup_idle_in_compute(node_per_core: RunResult) -> None:
    """Loaded through the DRAM: the cores' read requests go out and the replies come in over
    the eLink, while the host's own writes into the DRAM leave it idle (so neither path is
    busy all the setup); nothing leaves the chip."""
    setup = analysis.elink_load(node_per_core, "setup")
    assert 0.0 < setup["elink-in"][0] < 1.0
    assert 0.0 < setup["elink-rout"][0] < 1.0
    assert setup["elink-out"][0] == 0.0
    assert analysis.elink_load(node_per_core, "compute") == {
        kind: (0.0, 0.0) for kind in ("elink-out", "elink-in", "elink-rout", "elink-rin")
    }


def test_congestion_wait_appears_when_two_senders_share_a_link() -> None:
    """Round robin gathers every partial sum at its owner: the links into owners queue."""
    result = run(
        load_chip("e16"), random_network([6, 16, 4], "sigmoid", "sigmoid", 0), "round-robin", trace=True, baseline=False
    )
    loads = analysis.link_congestion(result)
    total_wait = sum(x.wait_cycles for x in loads)
    assert total_wait > 0
    delta = [
        w1 - w0
        for (_, _, w0), (_, _, w1), spec in zip(
            result.link_snapshots["setup"], result.link_snapshots["compute"], result.chip.mesh.links, strict=True
        )
        if spec.kind in MESH_KINDS
    ]
    assert total_wait == pytest.approx(sum(delta))


def test_timeline_rows_and_layer_marks(node_per_core: RunResult) -> None:
    rows = analysis.timeline_rows(node_per_core)
    assert [name for name, _ in rows][:2] == ["host", "core 0 (0, 0)"]
    assert len(rows) == 17
    core0 = rows[1][1]
    # the core's first activities fetch its initial values from the DRAM (the setup phase)
    assert core0[0].segment == "setup"
    assert [segment for _, segment in analysis.segment_starts(core0)] == [Forward(0), Forward(1), "readback"]


@pytest.mark.slow
def test_figures_render_with_titles(node_per_core: RunResult) -> None:
    figures = plots.run_figures(node_per_core)
    assert set(figures) == {
        "timeline.png",
        "utilisation.png",
        "congestion.png",
        "congestion-setup.png",
        "congestion-readback.png",
        "placement.png",
    }
    for png in figures.values():
        assert png.startswith(b"\x89PNG")
        assert len(png) > 10_000
    assert "e16" in analysis.title_of(node_per_core)
    assert "node-per-core" in analysis.title_of(node_per_core)
    compare = plots.compare_figures([node_per_core.metrics])
    assert compare["compare.png"].startswith(b"\x89PNG")


@pytest.mark.slow
def test_sparsity_curves_and_figure() -> None:
    rows = [
        {"chip": c, "pattern": p, "sparsity": s, "strategy": st, "broadcast": "targeted", "speedup": v, "b": 1}
        for c, p, s, st, v in [
            ("e16", "random", 0.9, "graph-cut", 3.0),
            ("e16", "random", 0.5, "graph-cut", 2.0),
            ("e16", "random", 0.5, "partitioned", 2.5),
            ("e64", "block", 0.5, "graph-cut", 7.0),
        ]
    ]
    assert analysis.sparsity_curves(rows, "speedup") == {
        ("e16", "random"): {"graph-cut/targeted": [(0.5, 2.0), (0.9, 3.0)], "partitioned/targeted": [(0.5, 2.5)]},
        ("e64", "block"): {"graph-cut/targeted": [(0.5, 7.0)]},
    }
    figure_rows = [{**r, "compute_bytes_on_chip": 100 * r["speedup"]} for r in rows]
    assert plots.sparsity_figure(figure_rows, "sparse").startswith(b"\x89PNG")
