"""Output paths are checked before any work: a directory or a missing folder is one line, exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from epiphany_sim.cli import main as sim_main
from epiphany_sim.errors import SimError
from epiphany_sim.files import check_output_path
from nnmap.cli import main as nnmap_main

Main = Callable[[list[str]], int]

COMMANDS: list[tuple[str, Main, list[str], str]] = [
    ("nnmap: error: ", nnmap_main, ["run", "--layers", "6,8,4"], "--json"),
    ("nnmap: error: ", nnmap_main, ["run", "--layers", "6,8,4"], "--trace"),
    ("nnmap: error: ", nnmap_main, ["compare", "--layers", "6,8,4", "--strategies", "partitioned"], "--json"),
    ("nnmap: error: ", nnmap_main, ["train", "--dataset", "or", "--epochs", "1", "--json", "{ok}"], "--plot"),
    ("nnmap: error: ", nnmap_main, ["rnn", "--layers", "2", "--hidden", "4", "--json", "{ok}"], "--trace"),
    ("epiphany-sim: error: ", sim_main, ["traffic", "--cycles", "50"], "--json"),
    ("epiphany-sim: error: ", sim_main, ["traffic", "--cycles", "50", "--sweep", "0.1:0.2:0.1"], "--plot"),
]


@pytest.mark.parametrize(("prefix", "main", "args", "option"), COMMANDS)
@pytest.mark.parametrize("bad", ["a directory", "a missing folder"])
def test_a_bad_output_path_is_refused_before_any_work(
    prefix: str,
    main: Main,
    args: list[str],
    option: str,
    bad: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "taken" if bad == "a directory" else tmp_path / "missing" / "out.file"
    if bad == "a directory":
        target.mkdir()
    argv = [a.replace("{ok}", str(tmp_path / "ok.json")) for a in args] + [option, str(target)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(prefix + f"cannot write {target}")
    assert captured.err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == (["taken"] if bad == "a directory" else [])
    if bad == "a directory":
        assert list(target.iterdir()) == []


def test_check_output_path_accepts_a_new_file_and_none(tmp_path: Path) -> None:
    check_output_path(None)
    check_output_path(tmp_path / "new.json")
    with pytest.raises(SimError, match="is a directory"):
        check_output_path(tmp_path)


@pytest.mark.parametrize("timeout", ["0", "-1", "inf"])
def test_sweep_connect_timeout_must_be_positive(
    timeout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "grid.toml"
    spec.write_text('chips = ["2x2"]\nlayers = ["6,8,4"]\nstrategies = ["partitioned"]\n')
    out = tmp_path / "out"
    assert (
        nnmap_main(
            [
                "sweep",
                "--spec",
                str(spec),
                "--out",
                str(out),
                "--scheduler",
                "tcp://127.0.0.1:9",
                f"--connect-timeout={timeout}",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err == f"nnmap: error: argument --connect-timeout: expected a finite number > 0, got '{timeout}'\n"
    assert not out.exists()


# A good output next to a bad one: the good one is not written either (the bad one is found first).
GOOD_AND_BAD: list[tuple[Main, list[str]]] = [
    (nnmap_main, ["run", "--layers", "6,8,4", "--json", "{ok}", "--plots", "{file}"]),
    (nnmap_main, ["run", "--layers", "6,8,4", "--json", "{ok}", "--trace", "{missing}"]),
    (nnmap_main, ["run", "--layers", "6,8,4", "--outputs", "{ok}", "--json", "{missing}"]),
    (nnmap_main, ["run", "--layers", "6,8,4", "--json", "{ok}", "--report", "{ok}"]),
    (
        nnmap_main,
        ["compare", "--layers", "6,8,4", "--strategies", "partitioned", "--json", "{ok}", "--plots", "{file}"],
    ),
    (nnmap_main, ["train", "--dataset", "or", "--epochs", "1", "--json", "{ok}", "--plot", "{missing}"]),
    (sim_main, ["traffic", "--cycles", "50", "--json", "{ok}", "--trace", "{missing}"]),
    (sim_main, ["traffic", "--cycles", "50", "--sweep", "0.1:0.2:0.1", "--json", "{ok}", "--plot", "{missing}"]),
]


@pytest.mark.parametrize(("main", "args"), GOOD_AND_BAD)
def test_a_good_output_is_not_written_when_another_is_bad(
    main: Main, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").write_text("a file where a directory is wanted")
    paths = {"{ok}": str(tmp_path / "ok.out"), "{file}": str(tmp_path / "plain"), "{missing}": str(tmp_path / "no/x")}
    assert main([paths.get(a, a) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert ".tmp" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


@pytest.mark.slow
def test_the_readme_plots_run_then_compare_into_one_existing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figs = tmp_path / "figs"
    assert nnmap_main(["run", "--chip", "e16", "--layers", "6,16,4", "--plots", str(figs), "--quiet"]) == 0
    assert (
        nnmap_main(["compare", "--layers", "6,16,4", "--strategies", "partitioned", "--plots", str(figs), "--quiet"])
        == 0
    )
    assert nnmap_main(["run", "--chip", "e16", "--layers", "6,16,4", "--plots", str(figs), "--quiet"]) == 0  # and again
    assert sorted(p.name for p in figs.iterdir()) == [
        "compare.png",
        "congestion-readback.png",
        "congestion-setup.png",
        "congestion.png",
        "placement.png",
        "timeline.png",
        "utilisation.png",
    ]
    assert capsys.readouterr().err == ""
