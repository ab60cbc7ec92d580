"""``epiphany_sim.progress``: lines off a terminal at most one an interval, a bar on one, --quiet, the closing line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from epiphany_sim import progress

INTERVAL_S = 0.2


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines every 0.2 s instead of every few seconds."""
    monkeypatch.setattr(progress, "LINE_INTERVAL_S", INTERVAL_S)


@pytest.mark.slow
def test_off_a_terminal_the_latest_state_once_an_interval(fast: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Updates 0.05 s apart for 1 s: the first line an interval after the start, then at most one an interval,
    each the latest state; what is left when the bar closes is dropped."""
    start = time.monotonic()
    with progress.command("nnmap run"), progress.Bar("partitioned on e16", 20, "ops") as bar:
        for _ in range(20):
            time.sleep(0.05)
            bar.update()
    elapsed = time.monotonic() - start
    lines = capsys.readouterr().err.splitlines()
    # at most one line per interval of the elapsed time, and at least one
    assert 1 <= len(lines) <= elapsed / INTERVAL_S
    counts = [int(line.rsplit(" ", 2)[1].split("/")[0]) for line in lines]
    assert all(line.startswith("nnmap run: partitioned on e16 ") and line.endswith("/20 ops") for line in lines)
    assert counts == sorted(set(counts))  # each line newer than the last
    assert counts[0] >= 2  # nothing in the first interval (0.2 s: at least 3 updates of 0.05 s went by)
    time.sleep(2 * INTERVAL_S)
    assert capsys.readouterr().err == ""  # no stale line after the task ended


@pytest.mark.slow
def test_a_step_announced_then_silent_is_said_when_its_turn_comes(
    fast: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A long step that gives no updates of its own is still named, by the timer, once the interval is up."""
    with progress.command("nnmap compare"):
        for name in progress.each(["partitioned", "node-per-core"], "strategies", "runs"):
            time.sleep(0.01 if name == "partitioned" else 3 * INTERVAL_S)
    assert capsys.readouterr().err == "nnmap compare: strategies: node-per-core (2/2) ...\n"


@pytest.mark.slow
def test_quiet_and_the_library_say_nothing(fast: None, capsys: pytest.CaptureFixture[str]) -> None:
    def work() -> None:
        progress.compiling()
        progress.phase("uniform traffic")
        with progress.Bar("epochs", 3, "epochs") as bar:
            for _ in range(3):
                time.sleep(INTERVAL_S)
                bar.update()
        progress.wrote(["out/a.json"])

    with progress.command("nnmap train", quiet=True):
        work()
    work()  # outside a command: the library
    assert capsys.readouterr().err == ""


def test_wrote_lists_the_files_in_one_line_and_nothing_for_none(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.command("nnmap run"):
        progress.wrote([Path("out/cmp.json"), "out/figs/compare.png"])
        progress.wrote([])
    assert capsys.readouterr().err == "wrote: out/cmp.json, out/figs/compare.png\n"


def test_compiling_is_said_once_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.command("epiphany-sim traffic"):
        progress.compiling()
        progress.compiling()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("epiphany-sim traffic: compiling the simulator's fabric")
    assert progress.COMPILE_ESTIMATE in err


def test_on_a_terminal_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress.command("nnmap train"), progress.Bar("hogwild", 4, "epochs") as bar:
        bar.update(4, note="loss 0.1")
    assert "hogwild" in terminal.getvalue()
    assert "4/4" in terminal.getvalue()


@pytest.mark.slow
def test_needs_compiling_reads_numbas_disk_cache(tmp_path: Path) -> None:
    """An empty cache directory: the loop needs compiling. This process has run it: it does not."""
    from epiphany_sim import E16
    from epiphany_sim.chip import Chip
    from epiphany_sim.fabric_kernel import needs_compiling
    from epiphany_sim.traffic import TrafficSpec, run_traffic

    run_traffic(Chip(E16, record=True), TrafficSpec("uniform", 0.1, 100, 0))
    assert not needs_compiling()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    check = "from epiphany_sim.fabric_kernel import needs_compiling; print(needs_compiling())"
    root = Path(__file__).resolve().parents[2]
    cold = subprocess.run([sys.executable, "-c", check], env=env, cwd=root, capture_output=True, text=True, check=True)
    assert cold.stdout == "True\n"
