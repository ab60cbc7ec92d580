"""Render an ``nnmap run --report`` page in headless Chromium and save a screenshot.

    python benchmarks/screenshot_report.py REPORT.html SHOT.png

Checks what a reader sees, not only the HTML text: images decode, the page lays out.
Needs a ``chromium`` (or ``chromium-browser``, ``google-chrome``) on the PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    """The first headless-capable browser on the PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(page: Path, shot: Path, width: int = 1400, height: int = 2400, timeout_s: float = 60.0) -> Path:
    """Screenshot ``page`` at ``width`` x ``height`` pixels into ``shot``."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError(f"no browser found: install one of {', '.join(BROWSERS)}")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={shot.resolve()}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=timeout_s,
    )
    return shot


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(screenshot(Path(sys.argv[1]), Path(sys.argv[2])))
