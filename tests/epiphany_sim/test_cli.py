"""The ``epiphany-sim`` command line: info, traffic, and one-line errors with exit status 2."""

from __future__ import annotations

import dataclasses
import json
from importlib.metadata import version
from pathlib import Path

import pytest

from epiphany_sim import ChipConfig
from epiphany_sim.cli import main, unit_of


def test_info_prints_every_field_with_its_unit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--chip", "e16"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    for field in dataclasses.fields(ChipConfig):
        assert field.name in lines
    assert lines["clock_hz"].split()[1:] == ["600000000.0", "Hz"]
    assert lines["sram_bytes"].split()[1:] == ["32768", "bytes"]
    assert lines["hop_latency_cycles"].split()[1:] == ["1.5", "cycles"]
    assert lines["cmesh_bytes_per_cycle"].split()[1:] == ["8.0", "bytes/cycle"]
    assert lines["rmesh_cycles_per_request"].split()[1:] == ["8.0", "cycles/request"]
    assert lines["dram_base_address"].split()[1] == "0x8e000000"
    assert "4x4 mesh, 16 cores" in out


def test_every_numeric_field_has_a_unit() -> None:
    for field in dataclasses.fields(ChipConfig):
        if field.type in ("int", "float"):
            assert unit_of(field.name), field.name


def test_info_applies_a_toml_file_and_mesh_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fast.toml"
    path.write_text("[chip]\nclock_hz = 1e9\n")
    assert main(["info", "--chip", "2x3", "--chip-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2x3 mesh, 6 cores" in out
    assert "1000000000.0  Hz" in out


@pytest.mark.slow
def test_traffic_writes_json_with_the_measures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "uniform.json"
    argv = [
        "traffic",
        "--chip",
        "e64",
        "--pattern",
        "uniform",
        "--rate",
        "0.2",
        "--cycles",
        "1000",
        "--seed",
        "1",
        "--json",
        str(path),
    ]
    assert main(argv) == 0
    data = json.loads(path.read_text())
    assert (data["chip"], data["pattern"], data["offered_rate"], data["cycles"], data["seed"]) == (
        "e64",
        "uniform",
        0.2,
        1000,
        1,
    )
    assert data["accepted_rate"] == pytest.approx(0.2, rel=0.05)
    assert data["transactions"] == pytest.approx(0.2 * 64 * 1000, rel=0.05)
    assert data["saturated"] is False
    assert 8 < data["avg_latency_cycles"] < data["p99_latency_cycles"]
    assert len(data["links"]) == 64 + 64 + 2 * 2 * 8 * 7
    assert all(0 <= row["utilisation"] <= 1 for row in data["links"])
    assert "accepted" in capsys.readouterr().out
    again = tmp_path / "again.json"
    assert main(argv[:-1] + [str(again)]) == 0
    assert again.read_bytes() == path.read_bytes()


def test_traffic_hotspot_options(tmp_path: Path) -> None:
    path = tmp_path / "hot.json"
    argv = [
        "traffic",
        "--pattern",
        "hotspot",
        "--hotspot",
        "0,3",
        "--hotspot-fraction",
        "0.5",
        "--rate",
        "0.1",
        "--cycles",
        "300",
        "--json",
        str(path),
    ]
    assert main(argv) == 0
    data = json.loads(path.read_text())
    assert (data["hotspot"], data["hotspot_fraction"]) == ([0, 3], 0.5)


@pytest.mark.parametrize(
    "argv",
    [
        ["info", "--chip", "e99"],
        ["info", "--chip", "0x4"],
        ["traffic", "--rate", "-0.1"],
        ["traffic", "--rate", "1.5"],
        ["traffic", "--rate", "fast"],
        ["traffic", "--cycles", "0"],
        ["traffic", "--pattern", "tornado"],
        ["traffic", "--chip", "2x3", "--pattern", "transpose"],
        ["traffic", "--pattern", "hotspot", "--hotspot", "9,9"],
        ["traffic", "--hotspot", "middle"],
        ["traffic", "--chip-config", "BAD_TOML"],
        ["traffic", "--chip-config", "MISSING"],
        ["traffic", "--plot", "PLOT"],
        ["traffic", "--sweep", "0.5:0.1:0.1"],
        ["traffic", "--sweep", "0.1:0.5"],
        ["traffic", "--sweep", "0.1:1.5:0.1"],
        ["traffic", "--sweep", "0.1:0.2:0.1", "--trace", "PLOT"],
        ["traffic", "--sweep", "0.001:1:0.0001"],
        ["traffic", "--rate", "nan"],
        ["traffic", "--seed", "-1"],
        ["traffic", "--warmup", "-5"],
        ["traffic", "--hotspot-fraction", "inf"],
        ["traffic", "--trace", "PLOT", "--trace-bin", "0"],
        ["launch"],
        [],
    ],
)
def test_bad_input_is_one_line_on_stderr_exit_2_and_no_file(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("clock_hz = = 1\n")
    plot = tmp_path / "plot.png"
    argv = [
        {"BAD_TOML": str(bad_toml), "MISSING": str(tmp_path / "missing.toml"), "PLOT": str(plot)}.get(a, a)
        for a in argv
    ]
    out_path = tmp_path / "out.json"
    if argv and argv[0] == "traffic":
        argv += ["--cycles", "50", "--json", str(out_path)] if "--cycles" not in argv else ["--json", str(out_path)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("epiphany-sim: error: ")
    assert "Traceback" not in captured.err
    assert not out_path.exists()
    assert not plot.exists()


def test_an_unwritable_json_path_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no_such_dir" / "out.json"
    assert main(["traffic", "--cycles", "50", "--json", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot write" in err
    assert not target.exists()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"epiphany-sim {version('epiphany-nnmap')}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["traffic", "--rate", "nan"], "argument --rate: expected a finite number in (0, 1], got 'nan'"),
        (["traffic", "--bogus"], "unrecognized arguments: --bogus"),
        (
            ["traffic", "--sweep", "0.001:1:0.0001"],
            "argument --sweep: '0.001:1:0.0001' gives 9991 rates, over 1000: use a larger STEP",
        ),
    ],
)
def test_messages_name_the_program_once(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == f"epiphany-sim: error: {message}\n"
