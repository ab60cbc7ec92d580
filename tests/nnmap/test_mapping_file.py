"""Plan files: ``plan --save`` writes a mapping, ``run --plan`` replays it bit for bit or refuses it in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnmap.cli import main
from nnmap.mapping_file import load_mapping

LAYERS = "64,40,10"


def _save(tmp_path: Path, *options: str) -> Path:
    path = tmp_path / "plan.json"
    assert main(["plan", "--layers", LAYERS, "--save", str(path), *options]) == 0
    return path


def _run(tmp_path: Path, name: str, *options: str) -> tuple[dict, np.ndarray]:
    figures, outputs = tmp_path / f"{name}.json", tmp_path / f"{name}.npy"
    assert (
        main(["run", "--layers", LAYERS, "--batch", "3", "--json", str(figures), "--outputs", str(outputs), *options])
        == 0
    )
    return json.loads(figures.read_text()), np.load(outputs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        ("--chip", "e64", "--strategy", "graph-cut", "--avoid-cores", "0,3;4,4"),
        ("--chip", "e16", "--strategy", "pipeline", "--feed", "host", "--load", "host", "--kernels", "c"),
        ("--chip", "2x3", "--strategy", "partitioned", "--broadcast", "dram"),
    ],
)
def test_run_plan_reproduces_the_run_bit_for_bit(tmp_path: Path, options, capsys):
    path = _save(tmp_path, *options)
    original, out_a = _run(tmp_path, "original", *options)
    replayed, out_b = _run(tmp_path, "replayed", "--plan", str(path))
    assert replayed == original
    assert np.array_equal(out_a, out_b)


def test_a_chip_file_s_overrides_travel_in_the_plan_file(tmp_path: Path, capsys):
    chip = tmp_path / "fast.toml"
    chip.write_text("[chip]\nclock_hz = 1e9\nhop_latency_cycles = 2.0\n")
    path = _save(tmp_path, "--chip", "e16", "--chip-config", str(chip))
    saved = json.loads(path.read_text())
    assert saved["chip"] == "e16"
    assert saved["chip_overrides"] == {"clock_hz": 1e9, "hop_latency_cycles": 2.0}
    mapping = load_mapping(path)
    assert mapping.chip.clock_hz == 1e9
    assert mapping.chip.hop_latency_cycles == 2.0
    assert mapping.sizes == [64, 40, 10]


def _edit(path: Path, **changes: object) -> Path:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": 2}, "version 2 is not 1"),
        ({"format": "other"}, '"format" must be'),
        ({"strategy": "magic"}, "unknown strategy 'magic'"),
        ({"strategy": "pipeline", "broadcast": "bidir"}, "does not support broadcast"),
        ({"feed": "teleport"}, "unknown feed"),
        ({"chain": [[0, 0], [0, 0]]}, "none twice"),
        ({"chain": [[0, 0], [9, 0]]}, "outside the 4x4 mesh"),
        ({"chain": [[0, "a"]]}, "pairs of whole numbers"),
        ({"avoid_cores": [[0, 0]]}, r"core \(0, 0\) is one e16 avoids"),
        ({"chip_overrides": {"clock": 1}}, "not chip fields"),
        ({"chip_overrides": {"clock_hz": -1.0}}, "clock_hz must be > 0"),
        ({"layers": [{"n_in": 64, "n_out": 40}, {"n_in": 41, "n_out": 10}]}, "takes 41 inputs"),
        ({"extra": 1}, "unknown keys"),
    ],
)
def test_a_bad_plan_file_is_one_line_and_status_2(tmp_path: Path, changes, message, capsys):
    path = _edit(_save(tmp_path), **changes)
    capsys.readouterr()
    assert main(["run", "--layers", LAYERS, "--plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err or __import__("re").search(message, err), err
    assert len(err.strip().splitlines()) == 1


def test_a_plan_file_for_other_sizes_is_refused(tmp_path: Path, capsys):
    path = _save(tmp_path)
    assert main(["run", "--layers", "64,40,11", "--plan", str(path)]) == 2
    assert "maps a network of sizes [64, 40, 10], not [64, 40, 11]" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--strategy", "partitioned"], ["--chip", "e16"], ["--avoid-cores", "1,1"]])
def test_options_the_plan_file_sets_are_refused_with_it(tmp_path: Path, option, capsys):
    path = _save(tmp_path)
    assert main(["run", "--layers", LAYERS, "--plan", str(path), *option]) == 2
    assert f"drop {option[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["not json", "[]"])
def test_a_file_that_is_not_a_plan_is_refused(tmp_path: Path, text, capsys):
    path = tmp_path / "plan.json"
    path.write_text(text)
    assert main(["run", "--plan", str(path)]) == 2
    assert "plan file" in capsys.readouterr().err
