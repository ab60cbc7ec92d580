"""Shared fixtures of the simulator's tests: fresh chips and a timed one-off write.

Expected numbers in these tests are worked out by hand from the hardware figures in
docs/hardware.md (8 bytes per cMesh transaction and cycle, 1.5 cycles per router hop, 1 byte
per cycle on the eLink plus a byte of framing per write transaction), never read back from
the code under test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from epiphany_sim import E16, HOST, Chip, ChipConfig


@pytest.fixture
def manhattan() -> Callable[[tuple, tuple], int]:
    """Router hops between two cores of a mesh, worked out apart from ``Mesh.hops``."""
    return lambda a, b: abs(a[0] - b[0]) + abs(a[1] - b[1])


@pytest.fixture
def chip() -> Chip:
    """A fresh E16 (4x4) chip."""
    return Chip(E16)


@pytest.fixture
def traced_chip() -> Chip:
    """A fresh E16 chip that keeps every transfer with its per-link spans."""
    return Chip(E16, trace=True)


@pytest.fixture
def lone_write() -> Callable[..., tuple[float, np.ndarray]]:
    """Send one write of ``n_floats`` float32 values on an otherwise idle chip.

    Returns a function ``(config, src, dst, n_floats) -> (arrival cycle, values at dst)``;
    the arrival cycle is when the destination's buffer held the data.
    """

    def run(config: ChipConfig, src: tuple, dst: tuple, n_floats: int) -> tuple[float, np.ndarray]:
        chip = Chip(config)
        chip.memory_at(dst).alloc("inbox", max(n_floats, 1))
        values = np.arange(1, n_floats + 1, dtype=np.float32)
        arrived: list[float] = []
        sender = chip.host if src == HOST else chip.core(src)
        chip.process(sender.write(dst, "inbox", 0, values, then=lambda: arrived.append(chip.env.now), copy=False))
        chip.run()
        return arrived[0], chip.memory_at(dst)["inbox"].load()

    return run
