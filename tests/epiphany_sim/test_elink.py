"""The eLink's bursts: a transaction that follows the one before it on its path, from the same
source to the next doubleword, pays its data and a byte of framing; any other its whole packet.

Expected figures are worked out by hand from the e16's fields: one byte per cycle on the
eLink, so a write continuing a burst takes 8 + 1 = 9 cycles and any other write its whole
packet, 14 (eLink protocol, bytes B00-B13); a read request takes 14 cycles either way (the
protocol bursts writes only). Half a cycle hands a transaction from the edge router to the
eLink, 1.5 cycles per router hop, 1 cycle through the core's xMesh port. The eLink is on the
east edge, so (r, 3) is the edge core of row r. A DMA transfer costs ``dma_setup_cycles``
(350.5) and then issues a transaction every 2 cycles, far faster than the eLink carries them.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import pytest

from epiphany_sim import E16, HOST, Chip, ChipConfig
from epiphany_sim.dma import Descriptor
from epiphany_sim.microbench import dram_write, mb_per_s

PACKET, BURST = 14, 9  # cycles of a write transaction on the eLink: whole packet, in a burst
SETUP = E16.dma_setup_cycles


def _stores_to_dram(cores: list[tuple], n_floats: int, reverse: bool = False) -> tuple[dict, Chip]:
    """Each core of ``cores`` writes ``n_floats`` values (its stores, from cycle 0) into its own
    DRAM buffer; return the cycle each write landed, and the chip. ``reverse``: start the
    processes in the other order."""
    chip = Chip(E16, record=True)
    landed: dict[tuple, float] = {}

    def now() -> float:
        return chip.env.now

    def write(core: tuple) -> Generator:
        values = np.arange(n_floats, dtype=np.float32) + core[0]
        yield from chip.core(core).write(
            HOST, f"from{core}", 0, values, then=lambda: landed.setdefault(core, now()), copy=False
        )

    for core in cores:
        chip.dram.alloc(f"from{core}", n_floats)
    for core in reversed(cores) if reverse else cores:
        chip.process(write(core))
    chip.run()
    for core in cores:
        np.testing.assert_array_equal(chip.dram[f"from{core}"].data, np.arange(n_floats) + core[0])
    return landed, chip


def _elink_out_busy(chip: Chip) -> float:
    (link,) = [link for link in chip.fabric.links if link.kind == "elink-out"]
    return link.busy_cycles


def test_two_sources_writing_dram_interleaved_take_longer_per_byte_than_one_alone() -> None:
    """(0, 3) and (1, 3) each store 64 B (8 transactions) into the DRAM from cycle 0.

    Both edge routers hand their first transaction to the eLink's outgoing end half a cycle
    later; from then on the end's round robin alternates between them (each has the next one
    waiting), so every transaction follows one from the other core and pays its whole packet:
    (0, 3)'s last is the 15th, at 0.5 + 15 * 14 = 210.5, (1, 3)'s the 16th, at 0.5 + 16 * 14 =
    224.5. One core storing the same 128 B alone keeps its burst: 0.5 + 14 + 15 * 9 = 149.5.
    """
    landed, chip = _stores_to_dram([(0, 3), (1, 3)], 16)
    assert landed == {(0, 3): 0.5 + 15 * PACKET, (1, 3): 0.5 + 16 * PACKET}
    assert _elink_out_busy(chip) == 16 * PACKET
    alone, chip = _stores_to_dram([(0, 3)], 32)
    assert alone == {(0, 3): 0.5 + PACKET + 15 * BURST}
    assert _elink_out_busy(chip) == PACKET + 15 * BURST
    assert max(landed.values()) / 128 > alone[(0, 3)] / 128


def test_the_burst_each_transaction_pays_does_not_depend_on_the_order_of_same_cycle_posts() -> None:
    forward, _ = _stores_to_dram([(0, 3), (1, 3)], 16)
    backward, _ = _stores_to_dram([(0, 3), (1, 3)], 16, reverse=True)
    assert forward == backward


def _dma_to_dram(config: ChipConfig, cores: list[tuple], n_floats: int) -> tuple[dict, float]:
    """Each core of ``cores`` DMA-writes ``n_floats`` values into its own DRAM buffer from cycle 0
    and polls until done; return the cycle each poll ended, and the cycle the last value landed."""
    chip = Chip(config)
    ended: dict[tuple, float] = {}

    def program(core: tuple) -> Generator:
        done = chip.env.event()
        yield from chip.core(core).dma([Descriptor(core, "out", HOST, f"from{core}", n_floats)], then=done.succeed)
        yield from chip.core(core).poll(done)
        ended[core] = chip.env.now

    for core in cores:
        chip.core(core).sram.alloc("out", n_floats).store(0, np.arange(n_floats, dtype=np.float32))
        chip.dram.alloc(f"from{core}", n_floats)
        chip.process(program(core))
    chip.run()
    for core in cores:
        np.testing.assert_array_equal(chip.dram[f"from{core}"].data, np.arange(n_floats))
    return ended, chip.fabric.last_delivery_cycle


def test_two_dma_streams_taking_turns_on_the_elink_lose_the_burst() -> None:
    """(0, 3) and (1, 3) each DMA 8 KB (1,024 transactions) into the DRAM.

    Both engines issue their first transaction after the 350.5-cycle setup; it reaches the
    eLink half a cycle later, at 351. The 2,048 transactions alternate between the two cores,
    each a whole packet: (0, 3)'s last ends at 351 + 2,047 * 14 = 29,009, (1, 3)'s at
    351 + 2,048 * 14 = 29,023; each core's poll (5 cycles) then sees it. One core alone takes
    its calibrated 9,581.5 cycles for the same 8 KB (the next test).
    """
    ended, last = _dma_to_dram(E16, [(0, 3), (1, 3)], 2048)
    assert ended == {(0, 3): 351 + 2047 * PACKET + 5, (1, 3): 351 + 2048 * PACKET + 5}
    assert last == 351 + 2048 * PACKET
    assert ended[(1, 3)] / (2 * 8192) > dram_write(E16, 8192)["cycles"] / 8192


def test_a_lone_burst_still_gives_the_calibrated_dram_write() -> None:
    """8 KB from (0, 0): setup 350.5, 3 hops east (4.5), the hand-off (0.5), then a whole packet
    and 1,023 transactions in its burst (14 + 1,023 * 9 = 9,221), and the poll (5): 9,581.5
    cycles, 489.2 MB/s, 0.8% below the 493.21 MB/s measured on a Parallella-16."""
    figures = dram_write(E16, 8192)
    assert figures["cycles"] == SETUP + 4.5 + 0.5 + PACKET + 1023 * BURST + 5 == 9581.5
    assert figures["mb_per_s"] == pytest.approx(493.21, rel=0.03)


def test_sixteen_cores_writing_dram_at_once_deliver_less_in_aggregate_than_one_burst() -> None:
    """Every core of the e16 DMA-writes 512 B (64 transactions) into the DRAM at once.

    After the setup, the first transactions of the four edge cores reach the eLink at 351; the
    outgoing end takes its four inputs (one per row) in turn, each always with a transaction
    waiting, so every transaction follows one from another row's core and pays its whole packet:
    the 1,024 take 1,024 * 14 = 14,336 cycles, the last landing at 14,687, 8,192 B at
    8,192 / 14,336 = 0.571 B per cycle. One core's 8 KB burst lands at 350.5 + 4.5 + 0.5 + 14
    + 1,023 * 9 = 9,576.5: 8,192 / 9,226 = 0.888 B per cycle.
    """
    cores = [(row, col) for row in range(4) for col in range(4)]
    _, last_all = _dma_to_dram(E16, cores, 128)
    _, last_one = _dma_to_dram(E16, [(0, 0)], 2048)
    assert last_all == 351 + 1024 * PACKET
    assert last_one == SETUP + 4.5 + 0.5 + PACKET + 1023 * BURST
    assert 8192 / (last_all - SETUP) < 8192 / (last_one - SETUP)
    assert mb_per_s(E16, 8192, last_all - SETUP) < 0.65 * mb_per_s(E16, 8192, last_one - SETUP)


@pytest.mark.parametrize(
    ("second", "offset", "expected"),
    [
        # The host's second write goes to the next doubleword of the same buffer: its burst goes on.
        ((1, 3), 4, PACKET + BURST + BURST + BURST + 1),
        # ... to another place of it: a whole packet again.
        ((1, 3), 6, PACKET + BURST + PACKET + BURST + 1),
        # ... to another core's SRAM, whose router is the next one down the east edge.
        ((2, 3), 0, PACKET + BURST + PACKET + BURST + 1),
    ],
)
def test_the_host_s_writes_into_the_chip_follow_the_same_rule(second: tuple, offset: int, expected: float) -> None:
    """The host writes 16 B (2 transactions) into (1, 3), then 16 B more where ``second`` and
    ``offset`` say; its port holds each transaction for its cycles on the eLink, so the second
    write starts as the first leaves (cycle 23) and lands 1 cycle after its last transaction has
    crossed (the edge core's xMesh port)."""
    chip = Chip(E16)
    chip.core((1, 3)).sram.alloc("x", 16)
    chip.core((2, 3)).sram.alloc("x", 16)
    landed: list[float] = []

    def host() -> Generator:
        yield from chip.host.write((1, 3), "x", 0, np.ones(4), copy=False)
        yield from chip.host.write(
            second, "x", offset, np.ones(4), then=lambda: landed.append(chip.env.now), copy=False
        )

    chip.process(host())
    chip.run()
    assert landed == [expected]


@pytest.mark.parametrize(
    ("read_burst_bytes", "second_request"),
    [(14.0, 14), (8.0, 8)],  # the e16's (the protocol bursts writes only), and a link that bursts reads
)
def test_a_read_request_continuing_a_burst_pays_the_burst_figure(read_burst_bytes: float, second_request: int) -> None:
    """Edge core (0, 3) loads 4 values from the DRAM: two requests, one after the other, to
    consecutive doublewords. Each: the hand-off (0.5), the request on the eLink, 100 cycles in
    DRAM, the reply on the eLink (the first a whole packet, the second in its burst) and the
    xMesh port (1). The second request follows the first from the same core to the next
    doubleword, so it pays ``elink_read_burst_request_bytes``."""
    chip = Chip(E16.replace(elink_read_burst_request_bytes=read_burst_bytes))
    chip.dram.alloc("data", 4).store(0, np.arange(4, dtype=np.float32))
    got: list[np.ndarray] = []

    def load() -> Generator:
        got.append((yield from chip.core((0, 3)).read(HOST, "data", 0, 4)))

    chip.process(load())
    chip.run()
    np.testing.assert_array_equal(got[0], np.arange(4))
    first = 0.5 + 14 + 100 + PACKET + 1
    assert chip.env.now == first + 0.5 + second_request + 100 + BURST + 1


@pytest.mark.parametrize(
    ("offset", "zero_load"),
    [
        (4, 0.5 + BURST + BURST),  # the next doubleword: its first transaction continues the burst
        (6, 0.5 + PACKET + BURST),  # a gap: its first transaction pays the whole packet
    ],
)
def test_a_message_s_zero_load_latency_counts_the_burst_it_continues(offset: int, zero_load: float) -> None:
    """(0, 3) stores 16 B into the DRAM, then 16 B more at ``offset``: the second message's
    zero-load latency is that of the formula, its first transaction a burst's 9 cycles if it
    continues the first message's burst, else a packet's 14. It is posted at cycle 2 (when the
    first message's two stores have left the core) and waits for the eLink until the first
    message's transactions are across (0.5 + 14 + 9 = 23.5)."""
    chip = Chip(E16, record=True)
    chip.dram.alloc("data", 16)

    def stores() -> Generator:
        yield from chip.core((0, 3)).write(HOST, "data", 0, np.ones(4), copy=False)
        yield from chip.core((0, 3)).write(HOST, "data", offset, np.ones(4), copy=False)

    chip.process(stores())
    chip.run()
    first, second = chip.fabric.transfers
    assert first.zero_load_cycles == first.latency_cycles == 0.5 + PACKET + BURST
    assert second.zero_load_cycles == zero_load
    assert second.sent_at == 2
    assert second.delivered_at == 0.5 + PACKET + BURST + zero_load - 0.5
    assert second.wait_cycles == second.delivered_at - 2 - zero_load > 0
