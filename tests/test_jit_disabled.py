"""The compiled loop run as plain Python (``NUMBA_DISABLE_JIT=1``) gives the compiled results, to the bit.

Plain Python is how the fabric's loop is debugged (a breakpoint or a print inside
``epiphany_sim/fabric_kernel.py``, or inside ``nnmap/programs/engine_loop.py``, which runs a
mapped pass's compute phase; see docs/contributing.md). It is about 70 times slower,
so the runs here are tiny: two mapped forward passes on ``e16`` (one traced, so every
transaction's timing is compared), one microbenchmark and a short traffic run, each
captured whole, as the golden test captures its runs. Run as a script, this file prints the
loop's kind (``function`` when numba is off) and those figures as JSON.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("golden_capture", ROOT / "tests" / "golden" / "capture.py")
assert _spec is not None
assert _spec.loader is not None
capture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(capture)


def _microbench() -> dict[str, Any]:
    from epiphany_sim import chip_from_name, microbench

    return microbench.dma(chip_from_name("e16"), size=256)


RUNS: dict[str, Callable[[], Any]] = {
    "partitioned_traced": lambda: capture.nnmap_case("e16", [4, 6, 3], "partitioned", "bidir", trace=True),
    "round_robin": lambda: capture.nnmap_case("e16", [4, 6, 3], "round-robin"),
    "microbench_dma": _microbench,
    "traffic_uniform": lambda: capture.traffic_case("e16", "uniform", 0.2, 150, warmup_cycles=50, drain_cycles=150),
}


def figures() -> dict[str, str]:
    """Every run's figures as JSON text (text, so that a NaN compares equal to a NaN)."""
    return {name: json.dumps(run(), sort_keys=True) for name, run in RUNS.items()}


@pytest.mark.slow
def test_the_loop_as_plain_python_gives_the_compiled_figures() -> None:
    compiled = figures()
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    script = f"import runpy; runpy.run_path({__file__!r}, run_name='__main__')"  # from the root: its packages
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    kind, plain = done.stdout.split("\n", 1)
    assert kind == "function"  # numba was off: the loop ran as the Python function it is written as
    plain_figures = json.loads(plain)
    assert set(plain_figures) == set(compiled)
    for name, text in compiled.items():
        assert plain_figures[name] == text, f"{name}: the plain-Python run differs from the compiled one"
    # The runs simulated something: cycles, transactions and their timings to compare.
    assert json.loads(compiled["partitioned_traced"])["transfers"]["count"] > 0
    assert json.loads(compiled["traffic_uniform"])["transfers"]["count"] > 0


if __name__ == "__main__":
    from epiphany_sim import fabric_kernel

    print(type(fabric_kernel.advance).__name__)
    print(json.dumps(figures()))
