"""``nnmap run --plots/--trace/--report`` and ``nnmap compare --plots``: written only on success."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from epiphany_sim import progress
from epiphany_sim.config import load_chip
from nnmap.cli import main
from nnmap.mapping import plan_for
from nnmap.model import random_network

RUN = ["run", "--strategy", "node-per-core", "--layers", "8,17,3"]


@pytest.mark.slow
def test_run_writes_plots_trace_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plots, trace, report = tmp_path / "figs", tmp_path / "t.json", tmp_path / "r.html"
    assert main([*RUN, "--plots", str(plots), "--trace", str(trace), "--report", str(report)]) == 0
    assert "validated against numpy: yes" in capsys.readouterr().out
    assert sorted(p.name for p in plots.iterdir()) == [
        "congestion-readback.png",
        "congestion-setup.png",
        "congestion.png",
        "placement.png",
        "timeline.png",
        "utilisation.png",
    ]
    assert json.loads(trace.read_text())["traceEvents"]
    page = report.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 6
    assert "Validated against a numpy forward pass: yes" in page
    assert "node-per-core" in page
    assert "<table>" in page
    first = page.split('src="data:image/png;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(first).startswith(b"\x89PNG")


@pytest.mark.slow
def test_compare_writes_a_bar_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", "--strategies", "partitioned,node-per-core", "--plots", str(out)]) == 0
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")
    assert "partitioned" in capsys.readouterr().out


def test_missing_directory_is_one_line_and_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plots = tmp_path / "figs"
    code = main([*RUN, "--plots", str(plots), "--trace", str(tmp_path / "no" / "t.json")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("nnmap: error: cannot write")
    assert err.count("\n") == 1
    assert not plots.exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_compare_progress_a_bar_on_a_terminal_lines_elsewhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", "--strategies", "partitioned,round-robin"]
    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.0)  # every state a line
    assert main(args) == 0
    assert capsys.readouterr().err.splitlines() == [
        "nnmap compare: strategies: partitioned (1/2) ...",
        "nnmap compare: strategies: round-robin (2/2) ...",
    ]
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(args) == 0
    assert "strategies" in terminal.getvalue()
    assert "0/2" in terminal.getvalue()  # the total is known up front


def test_run_progress_counts_every_op(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--chip", "e16", "--layers", "6,16,4", "--strategy", "node-per-core", "--batch", "3"]
    plan = plan_for("node-per-core", load_chip("e16"), random_network([6, 16, 4], "sigmoid", "sigmoid", 0), 3, None)
    total = sum(len(ops) for ops in plan.ops.values())
    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.0)
    assert main(args) == 0
    lines = capsys.readouterr().err.splitlines()
    # The compiled loop reports the ops done each time it hands over to Python: counts that only grow.
    counts = [
        int(m.group(1))
        for m in map(re.compile(rf"nnmap run: node-per-core on e16 (\d+)/{total} ops").match, lines)
        if m
    ]
    assert counts[0] >= 1
    assert counts == sorted(counts)
    assert counts[-1] == total
    assert lines[-1].startswith("nnmap run: single-core baseline ")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(args) == 0
    assert f"0/{total}" in terminal.getvalue()
    assert f"{total}/{total}" in terminal.getvalue()  # every op was counted by the end
    assert "single-core baseline" in terminal.getvalue()


@pytest.mark.slow
def test_the_last_line_lists_the_files_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    json_path, plots = tmp_path / "r.json", tmp_path / "figs"
    assert main([*RUN, "--json", str(json_path), "--plots", str(plots)]) == 0
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("wrote: ")
    named = set(last.removeprefix("wrote: ").split(", "))
    assert named == {str(json_path), *(str(p) for p in plots.iterdir())}
    assert len(named) == 7  # the JSON and six figures (three of them congestion maps, one per phase)
    assert main([*RUN, "--json", str(json_path), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"nnmap {version('epiphany-nnmap')}\n"


def test_outputs_get_the_umasks_permissions(tmp_path: Path) -> None:
    """Every output, the atomically written ones included, gets the mode the umask leaves: 0644 under 022."""
    previous = os.umask(0o022)
    try:
        assert main([*RUN, "--json", str(tmp_path / "r.json"), "--outputs", str(tmp_path / "y.npy")]) == 0
    finally:
        os.umask(previous)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()} == {"r.json": 0o644, "y.npy": 0o644}
