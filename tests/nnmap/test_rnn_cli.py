"""``nnmap rnn``: the summary, both orders' figures in the JSON, the states, the trace and the plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnmap.cli import main
from nnmap.recurrent.model import load_stack, random_sequence, random_stack


def _model(path: Path) -> Path:
    """Two layers of 5 units over 3 inputs."""
    random_stack(2, 5, 3, seed=4).save(path)
    return path


@pytest.mark.slow  # two figures: seconds
def test_rnn_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], numpy_rnn, assert_matches) -> None:
    model = _model(tmp_path / "stack.npz")
    out = {name: tmp_path / name for name in ("r.json", "y.npy", "t.json", "figs")}
    args = ["rnn", "--chip", "2x3", "--model", str(model), "--steps", "4", "--seed", "2", "--order", "serial"]
    args += ["--json", str(out["r.json"]), "--outputs", str(out["y.npy"]), "--trace", str(out["t.json"])]
    assert main([*args, "--plots", str(out["figs"])]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out["r.json"].read_text())
    serial, wavefront = data["serial"]["compute_cycles"], data["wavefront"]["compute_cycles"]
    ideal = 2 * 4 / (2 + 4 - 1)
    assert data["ideal_speedup"] == pytest.approx(ideal)
    assert data["speedup"] == pytest.approx(serial / wavefront)
    assert data["ratio_to_ideal"] == pytest.approx(serial / wavefront / ideal)
    assert (data["order"], data["layers"], data["hidden"], data["inputs_size"], data["steps"]) == ("serial", 2, 5, 3, 4)
    assert data["serial"]["validated"] is data["wavefront"]["validated"] is True
    assert "serial     " in printed
    assert f"{serial:.0f}" in printed
    assert f"{serial / wavefront:.2f}x in compute cycles; ideal L*T/(L+T-1) = {ideal:.2f}x" in printed
    states = np.load(out["y.npy"])
    expected = numpy_rnn(load_stack(model), random_sequence(load_stack(model), 4, 2))
    assert_matches(states.reshape(8, 5), expected.reshape(8, 5))
    trace = json.loads(out["t.json"].read_text())
    assert trace["otherData"]["order"] == "serial"
    cells = {event["args"]["layer"] for event in trace["traceEvents"] if event.get("cat") == "compute"}
    assert {f"L{i}T{t}" for i in range(2) for t in range(4)} <= cells
    figures = sorted(p.name for p in out["figs"].iterdir())
    assert figures == ["orders.png", "timeline.png"]
    assert all((out["figs"] / name).read_bytes().startswith(b"\x89PNG") for name in figures)


def test_rnn_prints_both_orders(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rnn", "--chip", "e16", "--layers", "2", "--hidden", "6", "--inputs-size", "4", "--steps", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # cells of (4 + 6) * 6 = 60 and (6 + 6) * 6 = 72 products: with 7 and 9 cores the busiest core has
    # 60 / 7 = 8.6 products, with 8 and 8 it would have 72 / 8 = 9, with 6 and 10, 60 / 6 = 10
    assert lines[0] == "2 Elman layers of 6 units, 4 inputs, 3 steps on e16 (4x4); the layers' groups have 7, 9 cores"
    assert [line.split()[0] for line in lines[2:4]] == ["serial", "wavefront"]
    assert all(line.rstrip().endswith("yes") for line in lines[2:4])
