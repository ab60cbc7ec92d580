"""The fabric: lone messages, round-robin sharing, FIFOs and back-pressure, the eLink, reads, DMA.

Expected latencies are worked out by hand from the hardware figures: 1.5 cycles per router
hop, one 8-byte transaction per cycle on the cMesh and the xMesh, one request per 8 cycles
on the rMesh, one byte per cycle on the eLink (a write transaction that continues a burst,
from the same source to the next doubleword, carries one byte of framing besides its 8, so
9 cycles; any other write its whole packet, 14; a read request 14), and half a cycle to hand
a transaction from an edge router to the eLink. A DMA transfer costs its core
``dma_setup_cycles`` (350.5) and then sends a transaction every 2 cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import pytest

from epiphany_sim import E16, E64, HOST, Chip, ChipConfig, ConfigError, DeadlockError
from epiphany_sim.dma import Descriptor
from epiphany_sim.fabric_kernel import _arbitrate

# (chip, src, dst, float32 values, expected latency worked out as hops*1.5 + ceil(B/8) + overhead)
LONE_WRITES = [
    (E16, (0, 0), (0, 1), 2, 2.5),  # 1 hop, 8 B: 1.5 + 1
    (E16, (0, 0), (3, 3), 16, 17.0),  # 6 hops, 64 B: 9 + 8
    (E16, (1, 2), (3, 0), 5, 9.0),  # 4 hops, 20 B = 3 transactions: 6 + 3
    (E16, (3, 3), (0, 0), 1, 10.0),  # 6 hops, 4 B still one transaction: 9 + 1
    (E16, (2, 1), (2, 2), 256, 129.5),  # 1 hop, 1024 B: 1.5 + 128
    (E64, (0, 0), (7, 7), 2, 22.0),  # 14 hops: 21 + 1
    (E16.replace(write_overhead_cycles=3.0), (2, 2), (0, 0), 25, 22.0),  # 4 hops, 100 B: 6 + 13 + 3
    (E64.replace(write_overhead_cycles=0.5), (7, 0), (0, 7), 2, 22.5),  # 14 hops: 21 + 1 + 0.5
    (E16.replace(hop_latency_cycles=2.0), (0, 0), (2, 2), 2, 9.0),  # 4 hops of 2 cycles + 1
    # Off chip, the eLink on the east edge of the E16: a whole packet of 14 cycles for the first
    # write transaction, then 9 for each in its burst:
    (E16, HOST, (1, 3), 16, 78.0),  # 8 transactions over the eLink (14 + 7 * 9 = 77) into the edge core (1)
    (E16, HOST, (1, 0), 16, 82.5),  # ... then 3 hops west: 77 + 4.5 + 1
    (E16, (2, 0), HOST, 16, 82.0),  # 3 hops east to the edge (4.5), the hand-off (0.5), then 77 out
    (E16, (0, 3), HOST, 2, 14.5),  # one transaction: 0.5 + 14
    (E16.replace(elink_write_overhead_bytes=0.0), HOST, (1, 3), 16, 71.0),  # no framing: 14 + 7 * 8 + 1
    (E16.replace(elink_write_packet_bytes=20.0), (0, 3), HOST, 4, 29.5),  # 0.5 + 20 + 9
]


@pytest.mark.parametrize(("config", "src", "dst", "n_floats", "expected_cycles"), LONE_WRITES)
def test_a_lone_write_arrives_after_the_documented_latency(
    lone_write: Callable, config: ChipConfig, src: tuple, dst: tuple, n_floats: int, expected_cycles: float
) -> None:
    arrived_at, values = lone_write(config, src, dst, n_floats)
    assert arrived_at == expected_cycles
    np.testing.assert_array_equal(values, np.arange(1, n_floats + 1, dtype=np.float32))


@pytest.mark.parametrize(("config", "src", "dst", "n_floats", "expected_cycles"), LONE_WRITES)
def test_the_record_of_a_lone_write_has_no_wait(
    config: ChipConfig, src: tuple, dst: tuple, n_floats: int, expected_cycles: float
) -> None:
    chip = Chip(config, record=True)
    chip.memory_at(dst).alloc("inbox", n_floats)
    sender = chip.host if src == HOST else chip.core(src)
    chip.process(sender.write(dst, "inbox", 0, np.ones(n_floats), copy=False))
    chip.run()
    (transfer,) = chip.fabric.transfers
    assert transfer.latency_cycles == transfer.zero_load_cycles == expected_cycles
    assert transfer.wait_cycles == 0
    core, other = (dst, src) if src == HOST else (src, dst)
    if other == HOST:
        other = (core[0], config.cols - 1)  # the eLink's router on the east edge, in the core's row
    assert transfer.hops == abs(core[0] - other[0]) + abs(core[1] - other[1])


def test_a_transfer_crosses_its_links_row_first_one_hop_after_another() -> None:
    chip = Chip(E16, trace=True)
    chip.core((0, 0)).sram.alloc("inbox", 4)
    chip.process(chip.core((2, 3)).write((0, 0), "inbox", 0, np.ones(4), copy=False))
    chip.run()
    (transfer,) = chip.fabric.transfers
    links = chip.fabric.links
    # Two transactions a cycle apart; each crosses a link 1.5 cycles after the one before.
    assert sorted((links[i].name, start, end) for i, start, end in transfer.link_spans) == sorted(
        [
            ("inject:c2,3->r2,3", 0.0, 1.0),
            ("inject:c2,3->r2,3", 1.0, 2.0),
            ("cmesh:r2,3->r2,2", 0.0, 1.0),
            ("cmesh:r2,3->r2,2", 1.0, 2.0),
            ("cmesh:r2,2->r2,1", 1.5, 2.5),
            ("cmesh:r2,2->r2,1", 2.5, 3.5),
            ("cmesh:r2,1->r2,0", 3.0, 4.0),
            ("cmesh:r2,1->r2,0", 4.0, 5.0),
            ("cmesh:r2,0->r1,0", 4.5, 5.5),
            ("cmesh:r2,0->r1,0", 5.5, 6.5),
            ("cmesh:r1,0->r0,0", 6.0, 7.0),
            ("cmesh:r1,0->r0,0", 7.0, 8.0),
            ("eject:r0,0->c0,0", 7.5, 8.5),
            ("eject:r0,0->c0,0", 8.5, 9.5),
        ]
    )
    assert transfer.hops == 5
    assert transfer.delivered_at == 9.5


# Streams of 8 KB of a core's own stores: 1024 transactions, so 1024 cycles on any one link.
STREAM_FLOATS, STREAM_TX = 2048, 1024


def _streams(config: ChipConfig, streams: list[tuple[tuple, tuple]]) -> tuple[list[float], Chip]:
    """Start one 8 KB write per stream in cycle 0, in the order given; return each one's arrival."""
    chip = Chip(config)
    arrived = [0.0] * len(streams)
    for _, dst in streams:
        if "inbox" not in chip.core(dst).sram:
            chip.core(dst).sram.alloc("inbox", STREAM_FLOATS)

    def stream(k: int, src: tuple, dst: tuple):
        yield from chip.core(src).write(
            dst, "inbox", 0, np.full(STREAM_FLOATS, k), then=lambda: arrived.__setitem__(k, chip.env.now), copy=False
        )

    for k, (src, dst) in enumerate(streams):
        chip.process(stream(k, src, dst))
    chip.run()
    return arrived, chip


@pytest.mark.parametrize("order", [1, -1])
def test_two_streams_over_one_link_share_it_round_robin_in_either_posting_order(order: int) -> None:
    a, b = ((0, 0), (0, 3)), ((0, 1), (0, 2))  # both cross r0,1 -> r0,2
    alone_a = _streams(E16, [a])[0][0]
    alone_b = _streams(E16, [b])[0][0]
    assert alone_a == 3 * 1.5 + STREAM_TX
    assert alone_b == 1 * 1.5 + STREAM_TX
    streams = [a, b][::order]
    together, chip = _streams(E16, streams)
    finish = dict(zip(streams, together, strict=True))
    assert abs(finish[a] - finish[b]) <= 0.1 * max(finish[a], finish[b])
    assert 1.8 <= finish[a] / alone_a <= 2.2
    assert 1.8 <= finish[b] / alone_b <= 2.2
    shared = next(link for link in chip.fabric.links if link.name == "cmesh:r0,1->r0,2")
    assert shared.transactions == 2 * STREAM_TX
    assert shared.busy_cycles == 2 * STREAM_TX
    assert shared.wait_cycles > 0


def test_the_same_two_streams_give_the_same_cycles_whichever_is_posted_first() -> None:
    a, b = ((0, 0), (0, 3)), ((0, 1), (0, 2))
    first, _ = _streams(E16, [a, b])
    second, _ = _streams(E16, [b, a])
    assert first == second[::-1]


@pytest.mark.parametrize(
    ("a", "b", "hops"),
    [
        (((0, 0), (0, 3)), ((1, 0), (1, 3)), 3),  # parallel rows
        (((0, 0), (0, 3)), ((0, 3), (0, 0)), 3),  # the same routers, opposite directions
        (((0, 0), (2, 0)), ((0, 1), (2, 1)), 2),  # parallel columns
    ],
)
def test_streams_on_disjoint_links_do_not_slow_each_other(a: tuple, b: tuple, hops: int) -> None:
    alone = [_streams(E16, [s])[0][0] for s in (a, b)]
    together, chip = _streams(E16, [a, b])
    assert together == alone == [hops * 1.5 + STREAM_TX] * 2
    assert all(link.wait_cycles == 0 for link in chip.fabric.links)


@pytest.mark.parametrize("n_bytes", [8, 64, 1000])
@pytest.mark.parametrize(("framing", "per_byte"), [(0.0, 8), (1.0, 9)])
def test_the_elink_takes_8x_the_cycles_of_an_on_chip_link_plus_framing_and_a_packet_to_start(
    n_bytes: int, framing: float, per_byte: int
) -> None:
    chip = Chip(E16.replace(elink_write_overhead_bytes=framing), trace=True)
    chip.core((1, 3)).sram.alloc("inbox", 256)
    chip.core((0, 1)).sram.alloc("inbox", 256)
    n_floats = n_bytes // 4
    chip.process(chip.host.write((1, 3), "inbox", 0, np.ones(n_floats), copy=False))
    chip.process(chip.core((1, 1)).write((0, 1), "inbox", 0, np.ones(n_floats), copy=False))
    chip.run()
    links = chip.fabric.links
    busy = {link.kind: link.busy_cycles for link in links if link.transactions}
    transactions = -(-n_bytes // 8)
    # 1 byte per cycle: the first transaction's whole packet (14), then 8 bytes and the framing
    assert busy["elink-in"] == 14 + per_byte * (transactions - 1)
    assert busy["cmesh"] == transactions  # 8 bytes per cycle, one link crossed


def _timed_read(chip: Chip, reader: tuple, src: tuple, n: int) -> tuple[float, np.ndarray]:
    source = chip.memory_at(src).alloc("data", n)
    source.store(0, np.arange(n, dtype=np.float32) + 0.5)
    agent = chip.host if reader == HOST else chip.core(reader)
    got: list[np.ndarray] = []

    def read():
        got.append((yield from agent.read(src, "data", 0, n)))

    chip.process(read())
    chip.run()
    return chip.env.now, got[0]


@pytest.mark.parametrize(
    ("reader", "src", "n_floats", "expected_cycles"),
    [
        # request: hops + 8 cycles on the read network; reply: a write of one transaction.
        ((0, 0), (0, 2), 2, (3 + 8) + (3 + 1)),
        ((0, 0), (0, 2), 4, 2 * ((3 + 8) + (3 + 1))),  # two transactions, one after the other
        # DRAM from an edge core: request (0.5 hand-off + 14 on the eLink) + DRAM 100 + reply
        # (the first a whole packet, 14 + 1; the second continues its burst, 9 + 1).
        ((0, 3), HOST, 4, (0.5 + 14) + 100 + (14 + 1) + (0.5 + 14) + 100 + (9 + 1)),
        ((2, 1), HOST, 2, (3 + 0.5 + 14) + 100 + (14 + 3 + 1)),  # 2 hops east to the edge and back
        # The host reads a core: its library's access (313), then the request over the eLink and
        # the rMesh (14 + 8), and the reply out, a whole packet (0.5 + 14).
        (HOST, (1, 3), 2, 313 + (14 + 8) + (0.5 + 14)),
        (HOST, (1, 0), 2, 313 + (14 + 4.5 + 8) + (4.5 + 0.5 + 14)),
    ],
)
def test_reads_stall_the_reader_until_the_reply_arrives(
    reader: tuple, src: tuple, n_floats: int, expected_cycles: float
) -> None:
    elapsed, values = _timed_read(Chip(E16), reader, src, n_floats)
    assert elapsed == expected_cycles
    np.testing.assert_array_equal(values, np.arange(n_floats, dtype=np.float32) + 0.5)


def test_a_remote_read_is_much_slower_than_a_write(lone_write: Callable) -> None:
    read_cycles, _ = _timed_read(Chip(E16), (0, 0), (0, 2), 2)
    write_cycles, _ = lone_write(E16, (0, 2), (0, 0), 2)
    assert read_cycles >= 3 * write_cycles


SETUP, DMA_RATE = E16.dma_setup_cycles, E16.dma_cycles_per_transaction


def _dma_to_neighbour(chip: Chip, n_floats: int, copies: int, arrivals: dict) -> Generator:
    """Core (0, 0) starts ``copies`` DMA transfers of ``n_floats`` to (0, 1), one after another."""
    sender = chip.core((0, 0))
    sender.sram.alloc("out", n_floats).store(0, np.arange(n_floats, dtype=np.float32))
    for n in range(copies):
        chip.core((0, 1)).sram.alloc(f"in{n}", n_floats)
    for n in range(copies):
        copy = Descriptor((0, 0), "out", (0, 1), f"in{n}", n_floats)
        yield from sender.dma([copy], then=lambda n=n: arrivals.setdefault(n, chip.env.now))


def test_a_dma_transfer_costs_the_core_its_setup_and_streams_at_the_engine_s_rate(chip: Chip) -> None:
    arrivals: dict = {}

    def program():
        yield from _dma_to_neighbour(chip, 80, 1, arrivals)
        yield from chip.core((0, 0)).compute(5)

    chip.process(program())
    chip.run()
    # 40 transactions, one every 2 cycles after the setup; the last takes 1 cycle out and a hop.
    assert arrivals == {0: SETUP + DMA_RATE * 39 + 1 + 1.5}
    np.testing.assert_array_equal(chip.core((0, 1)).sram["in0"].data, np.arange(80))
    assert chip.core((0, 0)).totals == {"compute": 5.0, "wait": 0.0, "send": SETUP}


def test_a_third_dma_transfer_waits_for_one_of_the_two_channels() -> None:
    chip = Chip(E16)
    arrivals: dict = {}
    chip.process(_dma_to_neighbour(chip, STREAM_FLOATS, 3, arrivals))
    chip.run()
    stream = DMA_RATE * (STREAM_TX - 1) + 1 + 1.5
    assert arrivals[0] == SETUP + stream
    # The second channel starts after the second setup; the port, busy for half a cycle with
    # the first channel's transaction, holds it back by half a cycle.
    assert arrivals[1] == 2 * SETUP + 0.5 + stream
    # The third transfer is set up by cycle 1051.5 but starts when channel 0 has sent its last.
    assert arrivals[2] == SETUP + DMA_RATE * STREAM_TX + stream
    for n in range(3):
        np.testing.assert_array_equal(chip.core((0, 1)).sram[f"in{n}"].data, np.arange(STREAM_FLOATS))


def test_a_core_s_own_stores_go_before_its_dma_at_the_port(chip: Chip) -> None:
    chip.core((0, 1)).sram.alloc("store", 20)
    arrivals: dict = {}
    sender = chip.core((0, 0))

    def program():
        yield from _dma_to_neighbour(chip, 80, 1, arrivals)
        yield from sender.compute(10)
        yield from sender.write(
            (0, 1), "store", 0, np.ones(20), then=lambda: arrivals.setdefault("store", chip.env.now), copy=False
        )

    chip.process(program())
    chip.run()
    # The DMA transfer (40 transactions) has sent 5 when the stores (10) take the port over.
    assert arrivals["store"] == SETUP + 10 + 10 + 1.5
    assert arrivals[0] == SETUP + 10 + 10 + DMA_RATE * 34 + 1 + 1.5
    assert sender.totals["send"] == SETUP + 10


def test_a_buffer_relay_forwards_along_the_chain_inside_the_fabric() -> None:
    chip = Chip(E64)
    chain = chip.mesh.neighbour_chain()
    for coord in chain:
        chip.core(coord).sram.alloc("h", 64)
    for k in range(1, len(chain) - 1):
        chip.add_relay(chain[k], "h", chain[k - 1], chain[k + 1])
        chip.add_relay(chain[k], "h", chain[k + 1], chain[k - 1])
    steps = 0
    step = chip.env.step

    def counted_step() -> None:
        nonlocal steps
        steps += 1
        step()

    chip.env.step = counted_step  # type: ignore[method-assign]
    resumed: list[float] = []
    middle = chain[20]

    def source():
        for j in range(64):  # 64 values, each sent left and right and relayed to both ends
            value = np.array([j + 0.25], dtype=np.float32)
            for q in (19, 21):
                yield from chip.core(middle).write(chain[q], "h", j, value)
            chip.core(middle).sram["h"].store(j, value)

    def last():
        yield from chip.core(chain[-1]).wait("h", 64)
        resumed.append(chip.env.now)

    chip.process(source())
    chip.process(last())
    chip.run()
    for coord in chain:
        np.testing.assert_array_equal(chip.core(coord).sram["h"].data, np.arange(64) + 0.25)
    assert chip.fabric.messages_delivered == 64 * (len(chain) - 1)  # 128 writes, 3,904 relays
    # Python saw the 128 writes leave the core and the waiting core wake, not the relays.
    assert steps < 1000
    # The middle core copies each value out of its SRAM, a transaction every 9 cycles: value 63
    # leaves for chain[21] at 18 * 63 + 9 = 1,143 and arrives 2.5 cycles later (a cycle into the
    # router, a hop). Each of the 42 cores after it notices the value in its poll loop (5 cycles)
    # and stores it onward (2.5 more): 7.5 cycles a hop. The last core's poll loop sees it on its
    # next pass.
    assert resumed == [1143 + 2.5 + 42 * (E64.poll_cycles + 2.5) + E64.poll_cycles]
    # Each relaying core spent a poll and a copy per value it forwarded: 64 on each side of the
    # middle, one way only.
    endpoint = chip.core(chain[30]).endpoint
    assert chip.fabric.relay_cycles(endpoint) == 64 * (E64.poll_cycles + E64.copy_cycles_per_transaction)


def test_bytes_injected_equal_bytes_delivered() -> None:
    chip = Chip(E16)
    rng = np.random.default_rng(7)
    for core in chip.cores:
        core.sram.alloc("inbox", 64)
    chip.dram.alloc("inbox", 64)
    nodes = [core.coord for core in chip.cores] + [HOST]
    sent_bytes = 0
    for core in chip.cores:
        plan = [(nodes[rng.integers(len(nodes))], int(rng.integers(1, 64))) for _ in range(12)]
        plan = [(dst, n) for dst, n in plan if dst != core.coord]  # a write to itself is a local store
        sent_bytes += sum(4 * n for _, n in plan)

        def program(core=core, plan=plan):
            for dst, n in plan:
                yield from core.write(dst, "inbox", 0, np.ones(n), copy=False)

        chip.process(program())
    chip.run()
    fabric = chip.fabric
    assert fabric.bytes_injected == fabric.bytes_delivered == sent_bytes > 0
    assert fabric.messages_sent == fabric.messages_delivered
    assert not fabric.busy


def test_a_write_outside_the_destination_buffer_fails_at_the_sender(chip: Chip) -> None:
    chip.core((1, 1)).sram.alloc("small", 4)

    def program():
        yield from chip.core((0, 0)).write((1, 1), "small", 2, np.ones(3), copy=False)

    chip.process(program())
    with pytest.raises(Exception, match="overflows buffer 'small'"):
        chip.run()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hop_latency_cycles", 1.25),
        ("cmesh_bytes_per_cycle", 3.0),
        ("elink_latency_cycles", 0.3),
        ("hop_latency_cycles", 0.0),
        ("hop_latency_cycles", float("nan")),
        ("write_overhead_cycles", float("inf")),
    ],
)
def test_fabric_times_off_the_half_cycle_grain_are_refused(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field.split("_bytes")[0].split("_latency")[0].split("_overhead")[0]):
        E16.replace(**{field: value})


def test_a_chip_that_has_run_keeps_its_clock_at_the_last_delivery() -> None:
    chip = Chip(E16)
    chip.core((3, 3)).sram.alloc("inbox", 2)
    chip.process(chip.core((0, 0)).write((3, 3), "inbox", 0, np.ones(2), copy=False))
    chip.run()
    assert chip.env.now == 6 * 1.5 + 1
    chip.process(
        chip.core((0, 0)).write((3, 3), "inbox", 0, np.ones(2), copy=False)
    )  # the fabric picks up where it left off
    chip.run()
    assert chip.env.now == 2 * (6 * 1.5 + 1)
    assert chip.core((3, 3)).sram["inbox"].written == 4


def test_waiting_on_the_fabric_for_ever_is_a_deadlock(chip: Chip) -> None:
    chip.core((0, 0)).sram.alloc("never", 1)

    def wait():
        yield from chip.core((0, 0)).wait("never", 1)

    chip.process(wait())
    with pytest.raises(DeadlockError, match="never to reach 1 writes"):
        chip.run()


@pytest.mark.parametrize(
    ("src", "dst", "read"),
    [
        ((0, 0), (2, 3), False),
        ((3, 3), (0, 1), False),
        ((1, 0), HOST, False),
        (HOST, (2, 1), False),
        ((0, 1), (3, 2), True),
        ((2, 0), HOST, True),
        (HOST, (3, 0), True),
    ],
)
def test_a_message_crosses_the_links_of_its_documented_route(src: tuple, dst: tuple, read: bool) -> None:
    chip = Chip(E16, trace=True)
    fabric = chip.fabric
    if read:
        word = chip.memory_at(dst).alloc("data", 2).word(0)
        fabric.post_read(fabric.endpoint(src), fabric.endpoint(dst), word, 2, 0.0)
    else:
        fabric.post(fabric.endpoint(src), fabric.endpoint(dst), 8, 0.0)
    chip.run()
    crossed = [{index for index, _, _ in transfer.link_spans} for transfer in fabric.transfers]
    if read:  # the request on the read network, the reply back on the write network
        assert crossed == [set(chip.mesh.route(src, dst, "r")), set(chip.mesh.route(dst, src, "c"))]
    else:
        assert crossed == [set(chip.mesh.route(src, dst, "c"))]


@pytest.mark.parametrize(
    ("want", "last", "winner"),
    [
        ([7, 7, 7, 7, 7], -1, 0),  # no winner yet: the first input
        ([7, 7, 7, 7, 7], 0, 1),  # after input 0, input 1
        ([7, -1, 3, 7, -1], 0, 3),  # input 2 wants another output
        ([7, -1, 3, 7, -1], 3, 0),  # after the last one wanting it, round to the first
        ([-1, 7, -1, -1, -1], 1, 1),  # the previous winner again when no other asks
        ([3, -1, 3, -1, -1], 2, -1),  # nobody wants output 7
    ],
)
def test_arbitration_is_round_robin_among_the_inputs_that_want_the_output(want: list, last: int, winner: int) -> None:
    """Each output goes to the first input after its last winner, cyclically, whose head asks for it."""
    assert _arbitrate(np.array(want, np.int64), len(want), 7, last) == winner


def test_payloads_queued_past_the_payload_table_land_intact() -> None:
    """Twelve writes of 200 distinct values queued at once hold 2400 payload words, more than the
    1024 the table starts with: posting them compacts and grows it while all are in flight, and
    every value must still land where its own write puts it."""
    chip = Chip(E16)
    fabric = chip.fabric
    src, dst = fabric.endpoint((0, 0)), fabric.endpoint((3, 3))
    sent = []
    for i in range(12):
        values = np.arange(200, dtype=np.float32) + 1000 * i
        target = chip.core((3, 3)).sram.alloc(f"in{i}", 200)
        fabric.post(src, dst, values.nbytes, 0.0, values, target.id, 0)
        sent.append((target, values))
    chip.run()
    for target, values in sent:
        np.testing.assert_array_equal(target.data, values)
