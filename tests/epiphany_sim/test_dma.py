"""The DMA engine: 2-D and chained descriptors, DMA reads and their outstanding requests.

Expected figures are worked out by hand: a DMA transfer costs its core ``dma_setup_cycles``
(350.5), then sends a transaction every ``dma_cycles_per_transaction`` (2); a read request
crosses the eLink in 14 cycles, DRAM answers 100 cycles later and the reply (one 8-byte
transaction, 9 cycles on the eLink when it follows the reply before it to the next
doubleword, 14 for its whole packet otherwise) comes back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from epiphany_sim import E16, HOST, Chip, ChipConfig, DeadlockError
from epiphany_sim.dma import Descriptor
from epiphany_sim.errors import MemoryAccessError, SimError
from epiphany_sim.microbench import dram_read, dram_write

SETUP = E16.dma_setup_cycles
N_TX = 1024  # 8 KB in 8-byte transactions


def _run_dma(chip: Chip, core: tuple, chain: list[Descriptor], seen: Callable[[], object] = lambda: None) -> float:
    """Core ``core`` runs one DMA chain and polls until it is done; return the cycles it took.
    ``seen`` is called the moment the poll ends, to look at memory then."""
    agent = chip.core(core)
    finished: list[float] = []

    def program():
        done = chip.env.event()
        yield from agent.dma(chain, then=done.succeed)
        yield from agent.poll(done, "wait for the DMA")
        finished.append(chip.env.now)
        seen()

    chip.process(program())
    chip.run()
    return finished[0]


def test_a_2d_descriptor_moves_the_strided_elements_and_only_those(chip: Chip) -> None:
    matrix = np.arange(64, dtype=np.float32).reshape(8, 8)
    chip.core((0, 0)).sram.alloc("matrix", 64).store(0, matrix.reshape(-1))
    target = chip.core((1, 1)).sram.alloc("block", 40)
    # Columns 3 and 5 of rows 1..6 (inner: 2 elements 2 apart; outer: 6 rows 8 apart), written
    # as 6 rows of 2 elements at the start of rows 5 elements apart.
    columns = Descriptor(
        (0, 0), "matrix", (1, 1), "block", inner=2, outer=6,
        src_offset=1 * 8 + 3, src_inner_stride=2, src_outer_stride=8,
        dst_offset=4, dst_inner_stride=1, dst_outer_stride=5,
    )  # fmt: skip
    _run_dma(chip, (0, 0), [columns])
    expected = np.full(40, np.nan, dtype=np.float32)
    for row in range(6):
        expected[4 + 5 * row : 4 + 5 * row + 2] = matrix[1 + row, [3, 5]]
    np.testing.assert_array_equal(target.data, expected)  # NaN where nothing was written
    assert target.written == 12


def test_a_2d_dma_read_gathers_a_column_from_another_core(chip: Chip) -> None:
    matrix = np.arange(16, dtype=np.float32).reshape(4, 4)
    chip.core((3, 3)).sram.alloc("matrix", 16).store(0, matrix.reshape(-1))
    target = chip.core((0, 0)).sram.alloc("column", 4)
    column = Descriptor((3, 3), "matrix", (0, 0), "column", inner=1, outer=4, src_offset=2, src_outer_stride=4)
    _run_dma(chip, (0, 0), [column])
    np.testing.assert_array_equal(target.data, matrix[:, 2])


def test_a_chain_of_descriptors_runs_one_after_another_on_one_channel(chip: Chip) -> None:
    source = chip.core((0, 0)).sram.alloc("out", 64)
    source.store(0, np.arange(64, dtype=np.float32))
    chip.core((0, 1)).sram.alloc("in", 64)
    halves = [Descriptor((0, 0), "out", (0, 1), "in", 32, src_offset=o, dst_offset=o) for o in (0, 32)]
    cycles = _run_dma(chip, (0, 0), halves)
    np.testing.assert_array_equal(chip.core((0, 1)).sram["in"].data, np.arange(64))
    # One setup, then 32 transactions 2 cycles apart as if it were one descriptor; the last
    # takes a cycle out and a hop, and the poll loop sees the end on its next pass.
    assert cycles == SETUP + 2 * 31 + 1 + 1.5 + E16.poll_cycles


def test_a_descriptor_outside_its_buffer_is_refused(chip: Chip) -> None:
    chip.core((0, 0)).sram.alloc("out", 8)
    chip.core((0, 1)).sram.alloc("in", 8)
    with pytest.raises(MemoryAccessError, match="outside buffer 'out'"):
        _run_dma(chip, (0, 0), [Descriptor((0, 0), "out", (0, 1), "in", 4, outer=3, src_outer_stride=4)])


@pytest.mark.parametrize(("field", "value"), [("inner", 2.5), ("outer", True), ("src_outer_stride", 4.0)])
def test_a_descriptor_s_counts_and_strides_are_integers(field: str, value: object) -> None:
    with pytest.raises(SimError, match=f"{field} counts elements: an integer"):
        Descriptor((0, 0), "out", (0, 1), "in", **{"inner": 2, field: value})


def test_a_descriptor_between_two_other_nodes_is_refused(chip: Chip) -> None:
    chip.core((0, 1)).sram.alloc("out", 8)
    chip.core((0, 2)).sram.alloc("in", 8)
    with pytest.raises(SimError, match="between this node's memory and another node's"):
        _run_dma(chip, (0, 0), [Descriptor((0, 1), "out", (0, 2), "in", 8)])


def test_a_dma_read_from_dram_is_slower_per_byte_than_a_dma_write_to_it() -> None:
    read, write = dram_read(E16, 8192), dram_write(E16, 8192)
    assert read["mb_per_s"] < write["mb_per_s"]
    # A write streams at the eLink's 9 cycles per transaction; a read is bound by its four
    # outstanding requests, each a round trip of well over 4 x 9 cycles.
    assert write["cycles"] == pytest.approx(SETUP + 9 * N_TX, rel=0.01)
    assert read["cycles"] > 1.5 * write["cycles"]


def _edge_read_cycles(config: ChipConfig) -> float:
    """8 KB read by DMA from DRAM into (0, 3), the core next to the E16's eLink."""
    chip = Chip(config)
    chip.dram.alloc("data", 2048).store(0, np.arange(2048, dtype=np.float32))
    chip.core((0, 3)).sram.alloc("data", 2048)
    cycles = _run_dma(chip, (0, 3), [Descriptor(HOST, "data", (0, 3), "data", 2048)])
    np.testing.assert_array_equal(chip.core((0, 3)).sram["data"].data, np.arange(2048))
    return cycles - SETUP - config.poll_cycles


# One read's round trip from the edge core: 0.5 to hand the request to the eLink, 14 to cross
# it, 100 in DRAM, 9 for the reply over the eLink (it continues the burst of the reply before
# it) and 1 into the core. The first reply starts the burst: a whole packet, 5 cycles more.
ROUND_TRIP = 0.5 + 14 + 100 + 9 + 1
FIRST_PACKET = 14 - 9


def test_one_outstanding_read_waits_for_each_reply_before_the_next_request() -> None:
    assert _edge_read_cycles(E16.replace(dma_outstanding_reads=1)) == N_TX * ROUND_TRIP + FIRST_PACKET


@pytest.mark.parametrize("outstanding", [2, 4, 8])
def test_more_outstanding_reads_overlap_their_round_trips(outstanding: int) -> None:
    cycles = _edge_read_cycles(E16.replace(dma_outstanding_reads=outstanding))
    assert cycles == pytest.approx(N_TX * ROUND_TRIP / outstanding, rel=0.02)


def test_past_the_elink_s_request_rate_more_outstanding_reads_gain_nothing() -> None:
    # 124.5 / 14 = 8.9: from 9 outstanding requests the eLink carries one every 14 cycles.
    bound = N_TX * 14
    times = [_edge_read_cycles(E16.replace(dma_outstanding_reads=k)) for k in (8, 16, 32)]
    assert times[0] > times[1]
    assert bound <= times[1] < 1.01 * bound
    assert times[2] == times[1]


def test_a_chain_to_two_nodes_is_done_when_both_have_landed(chip: Chip) -> None:
    sender = chip.core((0, 0))
    sender.sram.alloc("out", 2048).store(0, np.arange(2048, dtype=np.float32))
    far, near = chip.dram.alloc("far", 2048), chip.core((0, 1)).sram.alloc("near", 4)
    # 8 KB to the DRAM over the eLink, then 16 B to the neighbour: the second lands before the first.
    chain = [Descriptor((0, 0), "out", HOST, "far", 2048), Descriptor((0, 0), "out", (0, 1), "near", 4)]
    counts: list[tuple[int, int]] = []
    _run_dma(chip, (0, 0), chain, lambda: counts.append((far.written, near.written)))
    assert counts == [(2048, 4)]


def test_a_chain_reading_from_two_nodes_is_done_when_both_have_landed(chip: Chip) -> None:
    chip.dram.alloc("a", 4).store(0, np.arange(4, dtype=np.float32))
    chip.core((3, 3)).sram.alloc("b", 8).store(0, np.arange(8, dtype=np.float32) + 4)
    into = chip.core((0, 3)).sram.alloc("both", 12)
    # Two requests to the DRAM (100 cycles there), then four to a core 3 hops away, whose
    # replies come back first.
    reads = [Descriptor(HOST, "a", (0, 3), "both", 4), Descriptor((3, 3), "b", (0, 3), "both", 8, dst_offset=4)]
    seen: list[np.ndarray] = []
    _run_dma(chip, (0, 3), reads, lambda: seen.append(into.data.copy()))
    np.testing.assert_array_equal(seen[0], np.arange(12))


def test_polling_for_a_transfer_that_never_ends_is_a_deadlock(chip: Chip) -> None:
    core = chip.core((0, 0))

    def program():
        yield from core.poll(chip.env.event(), "the DMA status")

    chip.process(program())
    with pytest.raises(DeadlockError, match="polls for the DMA status that never comes"):
        chip.run()
