"""The HTML report in a real browser: headless Chromium lays out the table and the figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnmap.cli import main

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "screenshot_report.py"
_spec = importlib.util.spec_from_file_location("screenshot_report", SCRIPT)
assert _spec is not None
assert _spec.loader is not None
shots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shots)

pytestmark = [
    pytest.mark.slow,  # a browser: seconds
    pytest.mark.skipif(shots.find_browser() is None, reason="no headless Chromium on the PATH"),
]


def test_report_renders_with_its_figures(tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    assert main(["run", "--strategy", "node-per-core", "--layers", "8,17,3", "--report", str(page)]) == 0
    shot = shots.screenshot(page, tmp_path / "run.png", width=1000, height=2400)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape == (2400, 1000, 3)
    # the timeline's bars: the compute green and the wait red of the figure reach the screen
    green = np.all(np.abs(pixels - [0x2E, 0x8B, 0x57]) < 12, axis=2).sum()
    red = np.all(np.abs(pixels - [0xD9, 0x53, 0x4F]) < 12, axis=2).sum()
    assert green > 5_000
    assert red > 5_000
