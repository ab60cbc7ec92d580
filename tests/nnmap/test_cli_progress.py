"""A long command with its stderr in a pipe (a CI log, ``nohup``): progress lines, none with --quiet,
and a last line naming exactly the files it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The README's first command on 8 samples, with outputs: eight runs on a 64-core chip, 15 to 40 s on 2 cores,
# well past the 5 s before the first progress line.
COMPARE = ["compare", "--chip", "e64", "--layers", "64,128,10", "--batch", "8", "--json", "out/cmp.json"]
COMPARE += ["--plots", "out/figs"]
SHORT_COMPARE = ["compare", "--chip", "e16", "--layers", "6,16,4", "--json", "out/cmp.json", "--plots", "out/figs"]


def _nnmap(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "nnmap.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_long_compare_in_a_pipe_says_how_far_it_is(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    done = _nnmap(tmp_path, *COMPARE)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    progress = [line for line in lines if line.startswith("nnmap compare: ")]
    assert progress, done.stderr
    assert all(
        line.startswith("nnmap compare: strategies: ") or "compiling the simulator's fabric" in line
        for line in progress
    )
    assert lines[-1].startswith("wrote: ")
    assert (
        set(lines[-1].removeprefix("wrote: ").split(", "))
        == _files(tmp_path)
        == {"out/cmp.json", "out/figs/compare.png"}
    )


def test_quiet_says_nothing(tmp_path: Path) -> None:
    """Not even the closing line of the files written (that no progress line is printed however long a
    command runs is tested in-process, tests/nnmap/test_cli_outputs.py, with lines every state)."""
    (tmp_path / "out").mkdir()
    done = _nnmap(tmp_path, *SHORT_COMPARE, "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "partitioned" in done.stdout
    assert _files(tmp_path) == {"out/cmp.json", "out/figs/compare.png"}
