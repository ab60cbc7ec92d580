"""Whole-run figures: the three phases, their total, the time per sample with the weights resident,
the per-phase link and core figures, ``nnmap compare --rank-by`` and the report's first section.

Every figure is checked against something the code under test did not compute: the simulated
clock at the end of the run, the fabric's own transfer records and link counters, the host's
activity records, or the other figures of the same JSON added up by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from epiphany_sim.config import E16
from epiphany_sim.mesh import MESH_KINDS
from nnmap.analysis import PHASES, elink_load
from nnmap.chunks import run_chunks
from nnmap.cli import build_parser, main
from nnmap.model import random_inputs, random_network
from nnmap.report import report_html
from nnmap.run import RunResult, run
from nnmap.segments import Forward
from nnmap.training import Hyperparameters, get_trainer, load_dataset, network_for, train

NET = random_network([6, 16, 4], seed=1)
X = random_inputs(NET, 3, seed=1)
PARAMETER_BUFFERS = re.compile(r"load (w|b)\d+ ")  # the dense network's weights and biases, as the host labels them
COMPARED = "partitioned:bidir,partitioned:oneway,node-per-core,pipeline,round-robin"
FIGURES = {"total": "total_cycles", "compute": "compute_cycles", "per-sample": "per_sample_cycles"}


@pytest.fixture(scope="module")
def traced() -> RunResult:
    """The partitioned scheme on 6,16,4 on e16, three samples preloaded by the host straight into the
    cores' SRAM, every transfer kept."""
    return run(E16, NET, "partitioned", X, trace=True, baseline=False, load="host")


def test_the_phases_add_up_to_the_simulated_run(traced: RunResult) -> None:
    """The run ends when the simulated clock stops; the three phases cover it exactly."""
    m = traced.metrics
    assert m["total_cycles"] == traced.chip.env.now
    assert m["setup_cycles"] + m["compute_cycles"] + m["readback_cycles"] == pytest.approx(m["total_cycles"])
    assert sum(m["phases"][p]["cycles"] for p in PHASES) == pytest.approx(m["total_cycles"])
    for phase in PHASES:
        assert m["phases"][phase]["cycles"] == m[f"{phase}_cycles"]
        assert m[f"{phase}_time_us"] == pytest.approx(m[f"{phase}_cycles"] / E16.clock_hz * 1e6)


def test_parameters_land_first_and_per_sample_is_the_rest_over_the_batch(traced: RunResult) -> None:
    """The host sends every weight and bias before any input; the last parameter's landing, read
    from the fabric's transfer records, is ``parameters_cycles``; the time per sample is what
    follows it, shared over the three samples."""
    host = [a.label for a in traced.chip.host.activities if a.label.startswith("load ")]
    is_parameter = [bool(PARAMETER_BUFFERS.match(label)) for label in host]
    assert is_parameter == sorted(is_parameter, reverse=True)  # all parameters, then all inputs
    assert not all(is_parameter)
    loads = [t for t in traced.chip.fabric.transfers if t.label.startswith("load ")]
    landed = max(t.delivered_at for t in loads if PARAMETER_BUFFERS.match(t.label))
    m = traced.metrics
    assert m["parameters_cycles"] == landed
    assert landed < m["setup_cycles"]  # the inputs came after
    assert m["per_sample_cycles"] == pytest.approx((traced.chip.env.now - landed) / 3)
    assert m["per_sample_time_us"] == pytest.approx(m["per_sample_cycles"] / E16.clock_hz * 1e6)


def test_inputs_streamed_by_the_host_leave_only_parameters_in_the_setup() -> None:
    """With ``--feed host`` the setup loads no input: the parameters end it."""
    m = run(E16, NET, "partitioned", X, baseline=False, feed="host").metrics
    assert m["parameters_cycles"] == m["setup_cycles"]
    assert m["per_sample_cycles"] == pytest.approx((m["total_cycles"] - m["setup_cycles"]) / 3)


def test_a_stream_fed_by_the_host_reports_its_steady_interval_per_sample() -> None:
    """The pipeline's ``stream`` broadcast measures the cycles between samples leaving the last layer:
    its last layer finishes sample ``s`` at the latest end of that layer's activities of that
    sample (read here from the cores' records), one interval after sample ``s - 1``. With the
    inputs streamed in by the host that interval is the time per sample; with them preloaded it
    leaves out bringing each sample in, and the time per sample is the general one."""
    result = run(E16, NET, "pipeline", X, baseline=False, feed="host")
    ends = {}
    for core in result.chip.cores:
        for act in core.activities:
            ends[act.segment] = max(ends.get(act.segment, 0.0), act.end)
    done = [ends[Forward(1, s)] for s in range(3)]  # the two layers are 0 and 1
    assert result.metrics["per_sample_cycles"] == pytest.approx((done[-1] - done[0]) / 2)
    m = run(E16, NET, "pipeline", X, baseline=False).metrics
    assert m["per_sample_cycles"] == pytest.approx((m["total_cycles"] - m["parameters_cycles"]) / 3)


def test_per_phase_link_figures_add_up_to_the_whole_run(traced: RunResult) -> None:
    """Bytes and busy cycles of the three phases sum to the fabric's counters at the end of the run."""
    m, links = traced.metrics, traced.chip.fabric.links
    phases = m["phases"]
    assert sum(phases[p]["bytes_on_chip"] for p in PHASES) == m["bytes_on_chip"]
    assert sum(phases[p]["bytes_off_chip"] for p in PHASES) == m["bytes_off_chip"]
    families = {"mesh": MESH_KINDS, "edge": ("xedge", "redge"), "elink": ("elink",)}
    for family, prefixes in families.items():
        busy = sum(link.busy_cycles for link in links if link.kind.startswith(prefixes))
        assert sum(phases[p]["busy_cycles"][family] for p in PHASES) == pytest.approx(busy)
    assert phases["compute"]["bytes_on_chip"] == m["compute_bytes_on_chip"]
    assert phases["compute"]["link_max_utilisation"] == m["link_max_utilisation"]
    util = [np.mean(phases[p]["core_utilisation"]) for p in PHASES]
    assert util[0] == util[2] == 0.0  # the cores compute only in the compute phase
    assert util[1] == pytest.approx(np.mean(m["core_utilisation"]))


def test_parameters_through_the_dram_end_when_every_core_has_fetched_them() -> None:
    """Loaded through the DRAM, the parameters are resident once the last core's poll has seen its
    DMA reads of them end; only then does the host write the inputs and the cores fetch them."""
    result = run(E16, NET, "partitioned", X, baseline=False, load="dram")
    acts = [a for core in result.chip.cores for a in core.activities]
    fetched = max(a.end for a in acts if a.label == "wait for the parameters")
    assert result.metrics["parameters_cycles"] == fetched
    assert min(a.start for a in acts if a.label == "fetch the inputs") > fetched
    inputs = [a for a in result.chip.host.activities if a.label == "load inputs into DRAM"]
    assert len(inputs) == 1  # every core holds the same three samples: written once
    assert inputs[0].start >= fetched


def test_the_elink_carries_the_setup(traced: RunResult) -> None:
    """The host's loads cross the eLink's incoming write path: busy in the setup, idle in the compute
    phase of a preloaded run; the bytes are the host's own records of what it sent. The host
    library sends a transaction every 313 cycles, so the link is busy only for each buffer's first
    transaction, a whole packet (14 cycles), and the rest of its burst (9 cycles each)."""
    phases = traced.metrics["phases"]
    setup = phases["setup"]
    loads = [a.n_bytes for a in traced.chip.host.activities if a.label.startswith("load ")]
    busy = sum(14 + 9 * (-(-n // 8) - 1) for n in loads)
    assert setup["elink_utilisation"]["elink-in"] == pytest.approx(busy / setup["cycles"])
    assert setup["elink_utilisation"]["elink-out"] == 0.0
    assert phases["compute"]["elink_utilisation"]["elink-in"] == 0.0
    assert phases["readback"]["elink_utilisation"]["elink-out"] > 0.0
    sent = sum(a.n_bytes for a in traced.chip.host.activities if a.label.startswith("load "))
    assert setup["bytes_off_chip"] == sent
    for phase in PHASES:  # the congestion figures read the same links
        drawn = elink_load(traced, phase)
        assert {k: u for k, (u, _) in drawn.items()} == phases[phase]["elink_utilisation"]


def test_chunks_keep_the_phase_figures() -> None:
    """Three rows in chunks of two and one: the set's time per sample is the chunks' time after their
    parameters, summed, over the three rows."""
    chunked = run_chunks(E16, NET, "partitioned", None, X, 2)
    assert chunked.chunks == 2
    m, parts = chunked.metrics, chunked.metrics["chunks"]
    after = sum(c["total_cycles"] - c["parameters_cycles"] for c in parts)
    assert m["per_sample_cycles"] == pytest.approx(after / 3)
    assert m["total_cycles"] == pytest.approx(m["setup_cycles"] + m["compute_cycles"] + m["readback_cycles"])
    for phase in PHASES:
        assert m["phases"][phase]["cycles"] == pytest.approx(sum(c["phases"][phase]["cycles"] for c in parts))
        assert m["phases"][phase]["bytes_off_chip"] == sum(c["phases"][phase]["bytes_off_chip"] for c in parts)


def _compare(by: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    path = tmp_path / f"{by}.json"
    out = io.StringIO()
    argv = ["compare", "--chip", "e16", "--layers", "6,16,4", "--batch", "2", "--strategies", COMPARED]
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--rank-by", by, "--json", str(path)]) == 0
    return out.getvalue(), json.loads(path.read_text())


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("ranked")
    return {by: _compare(by, tmp) for by in FIGURES}


@pytest.mark.slow
@pytest.mark.parametrize("by", list(FIGURES))
def test_compare_rank_by_orders_rows_by_the_named_figure(
    ranked: dict[str, tuple[str, dict[str, Any]]], by: str
) -> None:
    """The JSON's runs and the table's rows come in the order of the named figure, smallest first; the
    smallest is rank 1 and the only row marked ``*``."""
    text, data = ranked[by]
    figure = FIGURES[by]
    runs = data["runs"]
    assert (data["rank_by"], data["rank_figure"]) == (by, figure)
    assert len(runs) == 5
    values = [m[figure] for m in runs]
    assert values == sorted(values)
    assert [m["rank"] for m in runs] == [1, 2, 3, 4, 5]
    assert all(m["rank_by"] == by for m in runs)
    assert runs[0][figure] == min(values)
    lines = text.splitlines()
    rows = [line.split() for line in lines[2:7]]
    assert [(row[-17], row[-16]) for row in rows] == [(m["strategy"], m["broadcast"]) for m in runs]
    assert rows[0][:2] == ["1", "*"]
    assert all("*" not in row for row in rows[1:])
    for m in runs:
        assert m["total_cycles"] == pytest.approx(m["setup_cycles"] + m["compute_cycles"] + m["readback_cycles"])


def test_the_three_rankings_see_the_same_runs(ranked: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Ranking reorders the runs, never changes their figures."""
    by_variant = [
        {(m["strategy"], m["broadcast"]): m["total_cycles"] for m in data["runs"]} for _, data in ranked.values()
    ]
    assert by_variant[0] == by_variant[1] == by_variant[2]


def test_rank_by_help_names_every_choice_and_the_default() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    option = next(a for a in sub.choices["compare"]._actions if a.dest == "rank_by")
    assert option.default == "total"
    assert option.choices == ["total", "compute", "per-sample"]
    for choice in option.choices:
        assert f"{choice}: " in option.help
    assert "(default)" in option.help


def test_rank_by_refuses_an_unknown_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--layers", "6,16,4", "--rank-by", "fastest"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--rank-by" in err


def test_the_report_opens_with_the_phase_split(traced: RunResult) -> None:
    """The first section after the title is the phase split, each phase's cycles as the run reports them."""
    page = report_html(traced.metrics, {})
    body = page.split("</h1>", 1)[1]
    assert body.lstrip().startswith('<h2 id="phase-split">Where the time goes</h2>')
    first = body.split("<h2", 2)[1]
    m = traced.metrics
    for key in ("setup_cycles", "compute_cycles", "readback_cycles", "total_cycles", "per_sample_cycles"):
        assert f"<td>{m[key]:.1f}</td>" in first
    share = m["setup_cycles"] / m["total_cycles"]
    assert f"<td>{share:.1%}</td>" in first
    assert body.index("Where the time goes") < body.index("Validated against") < body.index("<h2>Summary</h2>")


@pytest.mark.parametrize("trainer", ["single", "partitioned"])
def test_training_reports_its_phases(trainer: str) -> None:
    """Setup is the cycles before epoch 1; the epochs' own cycles add up to the total; per sample is the
    epochs' cycles over every sample they trained (2 epochs of the 4 XOR samples)."""
    data = load_dataset("xor", 0)
    hp = Hyperparameters(epochs=2)
    result = train(get_trainer(trainer)(E16, network_for(data, [4]), data, hp))
    records = result.records
    totals = result.to_dict()["totals"]
    assert totals["setup_cycles"] == records[0].cycles
    assert sum(r.epoch_cycles for r in records) == pytest.approx(records[-1].cycles)
    assert totals["setup_cycles"] + totals["compute_cycles"] + totals["readback_cycles"] == pytest.approx(
        totals["total_cycles"]
    )
    assert totals["per_sample_cycles"] == pytest.approx((records[-1].cycles - records[0].cycles) / (2 * 4))
    for rec in records[1:]:
        assert rec.per_sample_cycles == pytest.approx(rec.epoch_cycles / 4)
