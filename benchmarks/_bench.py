"""What every benchmark script prints first and how it summarises repeated runs."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence


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
