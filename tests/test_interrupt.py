"""Ctrl-C: one line ``interrupted``, exit status 130, no traceback, no output file; SIGTERM the same
with ``terminated`` and 143.

Each command runs in its own process group and gets SIGINT as a terminal sends it, to the
whole group, once it has claimed its output files (their hidden temporaries appear) and
so has started its work; SIGTERM goes to the process alone, as ``kill PID`` sends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nnmap import cli as nnmap_cli
from nnmap.strategies import all_variants

TIMEOUT_S = 120


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(
    argv: list[str], cwd: Path, started: Callable[[], bool], signum: int = signal.SIGINT
) -> tuple[int, str, str]:
    """Run ``python -m argv`` in ``cwd``, send ``signum`` once ``started()``; its status, stdout, stderr.

    SIGINT goes to the process group, as a terminal sends it; any other signal to the process alone.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as a shell starts a command: SIGINT at its default even where the test's own process ignores it
        # (a pytest-xdist worker does, and a child inherits an ignored signal)
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not started() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be interrupted"
    time.sleep(0.3)  # into the work
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=TIMEOUT_S)
    return proc.returncode, out, err


def _claimed(directory: Path) -> Callable[[], bool]:
    return lambda: any(directory.glob(".*.tmp"))


COMMANDS = [
    (
        ["nnmap.cli", "run", "--chip", "e64", "--layers", "64,256,10", "--batch", "80"],
        ["--json", "run.json", "--outputs", "y.npy"],
        "nnmap",
    ),
    (
        ["nnmap.cli", "train", "--dataset", "digits", "--strategy", "single", "--epochs", "20"],
        ["--json", "t.json"],
        "nnmap",
    ),
    (
        ["epiphany_sim.cli", "traffic", "--chip", "e64", "--rate", "0.2", "--cycles", "400000"],
        ["--json", "t.json", "--trace", "trace.json"],
        "epiphany-sim",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "outputs", "program"), COMMANDS, ids=["run", "train", "traffic"])
def test_ctrl_c_is_one_line_status_130_and_no_file(
    tmp_path: Path, argv: list[str], outputs: list[str], program: str
) -> None:
    """A shell shows status 130 for a process that exits with 130 and for one that ends by SIGINT
    itself: CPython ends that way after the clean exit when the interrupt passed through code it
    ran from a string (numba loading its cached loop, say), which is the conventional Unix exit
    for an interrupted program."""
    code, out, err = _interrupt([*argv, *outputs], tmp_path, _claimed(tmp_path))
    assert code in (130, -signal.SIGINT)
    assert err == f"{program}: interrupted\n"
    assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sigterm_is_one_line_status_143_and_no_file(tmp_path: Path) -> None:
    """``kill PID`` during a run: the hidden temporaries of the claimed outputs are removed too."""
    argv, outputs, program = COMMANDS[0]
    code, out, err = _interrupt([*argv, *outputs], tmp_path, _claimed(tmp_path), signal.SIGTERM)
    assert code == 143
    assert err == f"{program}: terminated\n"
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_while_files_are_claimed_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same in-process: KeyboardInterrupt raised by the simulation itself."""

    def interrupted(*args: object, **kwargs: object) -> None:
        assert any(tmp_path.glob(".*.tmp"))  # the outputs were claimed before the work
        raise KeyboardInterrupt

    monkeypatch.setattr(nnmap_cli, "run", interrupted)
    argv = [
        "run",
        "--json",
        str(tmp_path / "r.json"),
        "--plots",
        str(tmp_path / "figs"),
        "--report",
        str(tmp_path / "r.html"),
    ]
    assert nnmap_cli.main(argv) == 130
    assert capsys.readouterr().err == "nnmap: interrupted\n"
    assert list(tmp_path.iterdir()) == []


SWEEP = """
chips = ["e16", "e64"]
layers = ["64,128,10", "32,64,8"]
strategies = "all"
batches = [1, 2, 4]
"""


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_quietly_and_keeps_what_finished(tmp_path: Path) -> None:
    """The Dask workers get the terminal's SIGINT too; they stay quiet and the finished runs stay recorded."""
    (tmp_path / "grid.toml").write_text(SWEEP)
    results = tmp_path / "out" / "results.csv"

    def two_runs_recorded() -> bool:
        return results.exists() and len(results.read_text().splitlines()) >= 3

    code, out, err = _interrupt(
        ["nnmap.cli", "sweep", "--spec", "grid.toml", "--out", "out"], tmp_path, two_runs_recorded
    )
    assert code in (130, -signal.SIGINT)  # as the Ctrl-C test above says
    # the results kept are listed, then the interruption; before them only progress lines (one a few
    # seconds off a terminal: a machine busy enough takes that long to record two runs)
    *progress_lines, wrote, interrupted = err.splitlines()
    assert all(line.startswith("nnmap sweep: runs ") for line in progress_lines), err
    assert (wrote, interrupted) == ("wrote: out/results.csv, out/results.json", "nnmap: interrupted"), err
    assert err.endswith("\n")
    runs = 2 * 2 * 3 * len(all_variants())  # chips x layers x batches x every strategy's variants
    assert out.startswith(f"sweep: {runs} runs in grid.toml; {runs} to run\n")
    assert "stopped by Ctrl-C: run again with --resume to finish" in out
    assert len(results.read_text().splitlines()) >= 3
    assert not list((tmp_path / "out").glob("*.png"))
