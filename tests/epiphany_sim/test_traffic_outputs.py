"""The load sweep, its figure, and the Chrome trace of a traffic run."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from epiphany_sim import E16, Chip
from epiphany_sim.cli import main
from epiphany_sim.trace import CORES_PID, LINKS_PID
from epiphany_sim.traffic import TrafficSpec, run_traffic, trace_events

SATURATED_RED = (0xD9, 0x53, 0x4F)
SATURATED_SHADE = (249, 229, 229)  # that red at 15% over white


def test_sweep_runs_every_rate_of_the_range_inclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep.json"
    assert main(["traffic", "--sweep", "0.01:0.6:0.05", "--cycles", "40", "--json", str(out)]) == 0
    rates = [r["offered_rate"] for r in json.loads(out.read_text())["sweep"]]
    assert rates == pytest.approx([0.01 + 0.05 * k for k in range(12)])  # 0.01 ... 0.56; 0.61 > 0.6
    assert capsys.readouterr().out.count("\n") == 2 + 12


def test_each_sweep_point_is_the_single_run_at_that_rate(tmp_path: Path) -> None:
    sweep_json, single_json = tmp_path / "sweep.json", tmp_path / "single.json"
    common = ["--chip", "e16", "--cycles", "400", "--seed", "3"]
    assert main(["traffic", *common, "--sweep", "0.05:0.95:0.45", "--json", str(sweep_json)]) == 0
    assert main(["traffic", *common, "--rate", "0.5", "--json", str(single_json)]) == 0
    points = json.loads(sweep_json.read_text())["sweep"]
    assert points[1] == json.loads(single_json.read_text())
    low, high = points[0], points[2]
    assert not low["saturated"]
    assert high["saturated"]
    assert high["avg_latency_cycles"] is None
    # the bisection of a 4x4 mesh is 4 links each way, one transaction per cycle each; under uniform
    # traffic 8 of a core's 15 destinations lie across it, so 8 cores * rate * 8/15 <= 4: rate <= 0.9375
    assert high["accepted_rate"] < 4 / (8 * 8 / 15)


@pytest.mark.slow
def test_sweep_plot_marks_the_saturated_points(tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    assert main(["traffic", "--chip", "e16", "--cycles", "300", "--sweep", "0.05:0.95:0.45", "--plot", str(png)]) == 0
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert pixels.shape[1] > pixels.shape[0] > 400  # two panels side by side
    half = pixels.shape[1] // 2
    red = np.all(np.abs(pixels - SATURATED_RED) < 10, axis=2)
    shade = np.all(np.abs(pixels - SATURATED_SHADE) < 4, axis=2)
    # the latency panel shades the saturated loads; the accepted panel marks the saturated point
    # with a hollow red marker, and its legend entry (~25 pixels each)
    assert shade[:, :half].sum() > 2000
    assert red[:, half:].sum() > 35


@pytest.mark.slow
def test_an_unsaturated_sweep_has_no_saturation_marker(tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    assert main(["traffic", "--chip", "e16", "--cycles", "300", "--sweep", "0.02:0.06:0.02", "--plot", str(png)]) == 0
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert np.all(np.abs(pixels - SATURATED_RED) < 10, axis=2).sum() == 0
    assert np.all(np.abs(pixels - SATURATED_SHADE) < 4, axis=2).sum() == 0


@pytest.fixture(scope="module")
def traced() -> tuple[Chip, list[dict]]:
    chip = Chip(E16, trace=True)
    run_traffic(chip, TrafficSpec("uniform", rate=0.3, cycles=300, seed=2, warmup_cycles=50, drain_cycles=50))
    chip.run()  # every offered transaction arrives
    return chip, json.loads(json.dumps(trace_events(chip)))


@pytest.mark.slow
def test_trace_has_a_track_per_core_whose_sends_leave_one_per_cycle(traced: tuple[Chip, list[dict]]) -> None:
    chip, events = traced
    names = {
        e["tid"]: e["args"]["name"]
        for e in events
        if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == CORES_PID
    }
    assert sorted(names) == list(range(1, 17))
    assert names[6] == "core 5 (1, 1)"
    spans = defaultdict(list)
    for e in events:
        if e["ph"] == "X" and e["pid"] == CORES_PID:
            spans[e["tid"]].append((e["args"]["start_cycles"], e["args"]["start_cycles"] + e["args"]["cycles"]))
            assert e["args"]["bytes"] == 8
            assert e["args"]["cycles"] >= E16.cmesh_cycles_per_transaction  # queue and port, at least a cycle
    assert sum(len(s) for s in spans.values()) == len(chip.fabric.transfers)
    for track in spans.values():  # offered in order, they leave the core's port in order, a cycle apart
        ends = [end for _, end in sorted(track)]
        assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(ends))


def test_trace_link_spans_add_up_to_link_statistics(traced: tuple[Chip, list[dict]]) -> None:
    chip, events = traced
    busy: dict[int, float] = defaultdict(float)
    n_bytes: dict[int, int] = defaultdict(int)
    for e in events:
        if e["ph"] == "X" and e["pid"] == LINKS_PID:
            busy[e["tid"]] += e["args"]["cycles"]
            n_bytes[e["tid"]] += e["args"]["bytes"]
            assert e["dur"] == pytest.approx(e["args"]["cycles"] * 1e6 / E16.clock_hz)
    used = {i for i, link in enumerate(chip.fabric.links) if link.bytes}
    assert set(busy) == used
    for i in used:
        assert busy[i] == pytest.approx(chip.fabric.links[i].busy_cycles)
        assert n_bytes[i] == chip.fabric.links[i].bytes


def test_the_default_trace_sums_each_link_per_bin(tmp_path: Path) -> None:
    path, json_path = tmp_path / "trace.json", tmp_path / "run.json"
    assert (
        main(
            [
                "traffic",
                "--rate",
                "0.2",
                "--cycles",
                "1000",
                "--warmup",
                "0",
                "--drain",
                "0",
                "--trace",
                str(path),
                "--trace-bin",
                "250",
                "--json",
                str(json_path),
            ]
        )
        == 0
    )
    data = json.loads(path.read_text())
    assert data["otherData"]["pattern"] == "uniform"
    counters = defaultdict(list)
    for e in data["traceEvents"]:
        assert e["ph"] != "X"  # no per-transaction spans without a window
        if e["ph"] == "C":
            counters[e["name"]].append(e["args"]["utilisation"])
    result = json.loads(json_path.read_text())
    for row in result["links"]:
        if row["utilisation"]:  # four bins of 250 cycles make up the 1000-cycle window
            assert sum(counters[row["link"]][:4]) / 4 == pytest.approx(row["utilisation"], abs=0.002)


def test_a_trace_window_keeps_spans_only_there(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    assert (
        main(["traffic", "--rate", "0.2", "--cycles", "400", "--trace", str(path), "--trace-window", "1100:1150"]) == 0
    )
    spans = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    assert spans
    assert all(1100 <= e["args"]["start_cycles"] < 1150 for e in spans if e["pid"] == CORES_PID)


@pytest.mark.parametrize(
    "extra",
    [["--trace-window", "5:2"], ["--trace-bin", "0"], ["--trace-window", "0:10", "--trace-bin", "5"]],
)
def test_malformed_trace_shapes_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    path = tmp_path / "trace.json"
    assert main(["traffic", "--cycles", "50", "--trace", str(path), *extra]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not path.exists()
