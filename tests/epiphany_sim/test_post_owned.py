"""Core.post_owned: a DMA post that sends the caller's array as is, timed exactly as post."""

from __future__ import annotations

import numpy as np
import pytest

from epiphany_sim import E16, Chip
from epiphany_sim.errors import MemoryAccessError


def _posts(method: str) -> tuple[list[float], np.ndarray, list[float]]:
    """Three posts from core (0, 0) to (2, 3), the third while both DMA channels are busy."""
    chip = Chip(E16)
    chip.cores[2 * 4 + 3].sram.alloc("inbox", 6)
    arrived: list[float] = []
    sender = chip.core((0, 0))

    def program():
        for k in range(3):
            values = np.full(2, float(k + 1), dtype=np.float32)
            getattr(sender, method)((2, 3), "inbox", 2 * k, values, "p", then=lambda: arrived.append(chip.env.now))
        yield chip.env.timeout(0)

    chip.process(program())
    chip.run()
    return arrived, chip.core((2, 3)).sram["inbox"].data.copy(), list(sender._dma_free_at)


def test_post_owned_arrives_when_post_does_and_stores_the_same_values() -> None:
    owned = _posts("post_owned")
    copied = _posts("post")
    assert owned[0] == copied[0]
    # 5 hops * 1.5 + 1 transaction = 8.5; the second queues a cycle behind the first at the
    # core's port, the third waits for a free channel (at cycle 1) and then for the port
    assert owned[0] == [8.5, 9.5, 10.5]
    np.testing.assert_array_equal(owned[1], [1, 1, 2, 2, 3, 3])
    assert owned[2] == copied[2]


def test_post_owned_sends_the_array_itself_where_post_sends_a_copy() -> None:
    chip = Chip(E16)
    chip.core((0, 1)).sram.alloc("inbox", 1)
    values = np.array([1.0], dtype=np.float32)
    chip.core((0, 0)).post_owned((0, 1), "inbox", 0, values)
    values[0] = 9.0  # the caller broke its promise: the change travels
    chip.run()
    assert chip.core((0, 1)).sram["inbox"].data[0] == 9.0


def test_post_owned_to_a_missing_buffer_fails_at_the_sender_naming_it() -> None:
    chip = Chip(E16)
    with pytest.raises(MemoryAccessError, match="no buffer named 'nowhere'"):
        chip.core((0, 0)).post_owned((1, 1), "nowhere", 0, np.zeros(1, np.float32))
