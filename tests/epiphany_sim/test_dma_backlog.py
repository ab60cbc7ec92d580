"""More DMA posts than channels, all at once: every one is sent, in order, at a finite time."""

from __future__ import annotations

import numpy as np

from epiphany_sim import Chip


def test_posts_beyond_the_channels_queue_behind_them(chip: Chip) -> None:
    chip.core((0, 1)).sram.alloc("inbox", 20)
    arrivals: list[tuple[int, float]] = []
    sender = chip.core((0, 0))

    def program():
        for n in range(5):  # 80 B = 10 transactions each, through the one port of the core
            sender.post((0, 1), "inbox", 0, np.full(20, n), then=lambda n=n: arrivals.append((n, chip.env.now)))
        yield from sender.compute(1)

    chip.process(program())
    chip.run()
    # the port passes one message per 10 cycles; each arrives 1.5 cycles (one hop) later
    assert arrivals == [(n, 10 * (n + 1) + 1.5) for n in range(5)]
    np.testing.assert_array_equal(chip.core((0, 1)).sram["inbox"].data, np.full(20, 4.0))
