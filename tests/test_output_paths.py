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
    assert err.startswith("nnmap: error: --connect-timeout is seconds, a positive number")
    assert not out.exists()
