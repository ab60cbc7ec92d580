"""Local SRAM and the DRAM window: capacity, banks, NaN until written, overflow errors."""

from __future__ import annotations

import numpy as np
import pytest

from epiphany_sim import E16, Chip, MemoryAccessError, SramOverflowError

DATA_BYTES = 32 * 1024 - 4 * 1024  # E16 SRAM minus the code area in bank 0


def test_sram_overflow_names_the_core_the_bytes_needed_and_free(chip: Chip) -> None:
    sram = chip.core((1, 1)).sram
    sram.alloc("weights", 7000)  # 28,000 B
    with pytest.raises(SramOverflowError) as info:
        sram.alloc("bias", 200)  # 800 B more
    error = info.value
    assert (error.bytes_needed, error.bytes_free) == (800, DATA_BYTES - 28_000)
    assert error.bytes_free == 672
    assert "core 5" in str(error)
    assert "0x849" in str(error)  # core (1, 1): row 33, column 9
    assert "'bias' needs 800 bytes but only 672 bytes are free" in str(error)


def test_sram_overflow_inside_a_process_reaches_the_caller_intact(chip: Chip) -> None:
    def program():
        chip.cores[3].sram.alloc("too_big", DATA_BYTES // 4 + 1)
        yield chip.env.timeout(1)

    chip.process(program())
    with pytest.raises(SramOverflowError) as info:
        chip.run()
    assert (info.value.bytes_needed, info.value.bytes_free) == (DATA_BYTES + 8, DATA_BYTES)
    assert "core 3" in str(info.value)


def test_the_whole_data_area_fits_exactly(chip: Chip) -> None:
    sram = chip.cores[0].sram
    sram.alloc("all", DATA_BYTES // 4)
    assert sram.free_bytes == 0
    assert sram.bank_usage() == [8192, 8192, 8192, 8192]


def test_allocations_are_doubleword_aligned_and_fill_the_banks_in_order(chip: Chip) -> None:
    sram = chip.cores[0].sram
    sram.alloc("one", 1)  # 4 B rounded up to 8
    sram.alloc("big", 2048)  # 8 KB, starting at 4096 + 8
    assert sram["one"].offset_bytes == 4096
    assert sram["big"].offset_bytes == 4104
    assert sram.free_bytes == DATA_BYTES - 8 - 8192
    assert (sram.bank_of("one"), sram.bank_of("big")) == (0, 0)
    # Bank 0: code 4096 + "one" 8 + the first 4088 B of "big"; bank 1: its other 4104 B.
    assert sram.bank_usage() == [8192, 4104, 0, 0]


def test_dram_window_overflow_is_named() -> None:
    chip = Chip(E16)
    with pytest.raises(SramOverflowError, match="DRAM window at 0x8e000000"):
        chip.dram.alloc("huge", 32 * 1024 * 1024 // 4 + 1)


def test_unwritten_values_are_nan_and_writes_land_where_addressed(chip: Chip) -> None:
    chip.core((3, 3)).sram.alloc("inbox", 8)
    seen_before: list[np.ndarray] = []

    def writer():
        yield from chip.core((0, 0)).write((3, 3), "inbox", 2, np.array([1.0, 2.0, 3.0]))

    def early_reader():
        yield chip.env.timeout(1)  # long before the 10-cycle trip is over
        seen_before.append(chip.core((3, 3)).sram["inbox"].load())

    chip.process(writer())
    chip.process(early_reader())
    chip.run()
    assert np.isnan(seen_before[0]).all()
    got = chip.core((3, 3)).sram["inbox"].load()
    np.testing.assert_array_equal(got[2:5], [1.0, 2.0, 3.0])
    assert np.isnan(got[[0, 1, 5, 6, 7]]).all()
    assert got.dtype == np.float32


def test_out_of_bounds_and_unknown_buffers_are_memory_access_errors(chip: Chip) -> None:
    buffer = chip.cores[0].sram.alloc("x", 4)
    with pytest.raises(MemoryAccessError, match="overflows"):
        buffer.store(2, np.ones(3))
    with pytest.raises(MemoryAccessError, match="outside"):
        buffer.load(3, 2)
    with pytest.raises(MemoryAccessError, match="no buffer named 'y'"):
        chip.cores[0].sram["y"]
    with pytest.raises(MemoryAccessError, match="already allocated"):
        chip.cores[0].sram.alloc("x", 1)


def test_store_one_stores_counts_wakes_and_refuses_outside() -> None:
    """One value stored at index 2 of a 4-element buffer: it lands there as float32, the buffer
    counts one more write, a waiter for one write wakes, and index 4 (past the end) and -1 are
    refused rather than wrapped around."""
    chip = Chip(E16)
    buffer = chip.core((0, 0)).sram.alloc("acc", 4)
    woken = chip.env.event()
    buffer.add_waiter(1, woken)
    buffer.store_one(2, np.float64(0.1))
    assert buffer.data[2] == np.float32(0.1)
    assert np.isnan(buffer.data[[0, 1, 3]]).all()
    assert buffer.written == 1
    assert woken.triggered
    for index in (4, -1):
        with pytest.raises(MemoryAccessError):
            buffer.store_one(index, 1.0)
    assert buffer.written == 1
