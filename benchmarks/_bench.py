"""What every benchmark script prints first and how it summarises repeated runs."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import simpy


def machine() -> str:
    """One line naming the machine: platform, processor, CPU count and Python."""
    processor = platform.processor() or platform.machine()
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    return (
        f"machine: {platform.platform()}, {model or processor}, {os.cpu_count()} cpus, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    """``min .. max`` of the runs, to show how noisy the median is."""
    return f"{min(values):,.3g} .. {max(values):,.3g}"


def bare_simpy_events_per_s(n_events: int) -> float:
    """Events per wall-second of one process that only yields ``timeout(1)``: how fast this
    machine runs simpy at all, printed beside every figure because the machine is shared."""

    def loop(env: simpy.Environment):
        for _ in range(n_events):
            yield env.timeout(1)

    env = simpy.Environment()
    env.process(loop(env))
    start = time.perf_counter()
    env.run()
    return n_events / (time.perf_counter() - start)


_FIRST_RUN = """
import time
start = time.perf_counter()
import numpy as np
from epiphany_sim import E16, Chip
chip = Chip(E16)
chip.core((3, 3)).sram.alloc("x", 2)
chip.process(chip.core((0, 0)).write((3, 3), "x", 0, np.ones(2)))
chip.run()
print(time.perf_counter() - start)
"""


def first_run_seconds() -> tuple[float, float]:
    """Seconds of a new process's first tiny simulation: on an empty compilation cache (the
    one-time compilation of the fabric) and again on the cache that run left."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        times = [
            float(
                subprocess.run(
                    [sys.executable, "-c", _FIRST_RUN], env=env, capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(2)
        ]
    return times[0], times[1]
