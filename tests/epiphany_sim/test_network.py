"""Transfer timing on the three networks: lone messages, contention, the eLink, reads."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from epiphany_sim import E16, E64, HOST, Chip, ChipConfig

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
]


@pytest.mark.parametrize(("config", "src", "dst", "n_floats", "expected_cycles"), LONE_WRITES)
def test_lone_write_latency_is_hops_times_1_5_plus_transactions_plus_overhead(
    lone_write: Callable, config: ChipConfig, src: tuple, dst: tuple, n_floats: int, expected_cycles: float
) -> None:
    arrived_at, values = lone_write(config, src, dst, n_floats)
    assert arrived_at == expected_cycles
    np.testing.assert_array_equal(values, np.arange(1, n_floats + 1, dtype=np.float32))


@pytest.mark.parametrize(("config", "src", "dst", "n_floats", "expected_cycles"), LONE_WRITES)
def test_network_send_times_a_lone_message_the_same_way(
    config: ChipConfig, src: tuple, dst: tuple, n_floats: int, expected_cycles: float
) -> None:
    chip = Chip(config)
    transfer = chip.network.send(src, dst, 4 * n_floats)
    assert transfer.latency_cycles == expected_cycles
    assert transfer.wait_cycles == 0
    assert transfer.hops == abs(src[0] - dst[0]) + abs(src[1] - dst[1])


def test_a_transfer_crosses_its_links_row_first_one_hop_after_another(traced_chip: Chip) -> None:
    transfer = traced_chip.network.send((2, 3), (0, 0), 16)
    links = traced_chip.network.links
    assert [(links[i].name, start, end) for i, start, end in transfer.link_spans] == [
        ("inject:c2,3->r2,3", 0.0, 2.0),
        ("cmesh:r2,3->r2,2", 0.0, 2.0),
        ("cmesh:r2,2->r2,1", 1.5, 3.5),
        ("cmesh:r2,1->r2,0", 3.0, 5.0),
        ("cmesh:r2,0->r1,0", 4.5, 6.5),
        ("cmesh:r1,0->r0,0", 6.0, 8.0),
        ("eject:r0,0->c0,0", 7.5, 9.5),
    ]


def _streams(chip: Chip, streams: list[tuple[tuple, tuple]], messages: int, n_floats: int) -> list[float]:
    """Run ``messages`` back-to-back writes per stream; return each stream's last arrival."""
    last = [0.0] * len(streams)
    for k, (src, dst) in enumerate(streams):
        if "inbox" not in chip.core(dst).sram:
            chip.core(dst).sram.alloc("inbox", n_floats)

        def stream(k: int = k, src: tuple = src, dst: tuple = dst):
            for _ in range(messages):
                arrives = yield from chip.core(src).write(dst, "inbox", 0, np.ones(n_floats))
                last[k] = max(last[k], arrives)

        chip.process(stream())
    chip.run()
    return last


# Ten 256-byte messages per stream: 320 transactions, so 320 cycles on any one link.
MESSAGES, FLOATS, STREAM_TX = 10, 64, 320


def test_two_streams_over_one_directed_link_take_longer_than_either_alone() -> None:
    a, b = ((0, 0), (0, 3)), ((0, 1), (0, 2))  # both cross r0,1 -> r0,2
    alone_a = _streams(Chip(E16), [a], MESSAGES, FLOATS)[0]
    alone_b = _streams(Chip(E16), [b], MESSAGES, FLOATS)[0]
    assert alone_a == 3 * 1.5 + STREAM_TX
    assert alone_b == 1 * 1.5 + STREAM_TX
    chip = Chip(E16)
    together = _streams(chip, [a, b], MESSAGES, FLOATS)
    # The shared link carries both bodies one after the other: at least 640 cycles.
    assert max(together) >= 2 * STREAM_TX
    assert max(together) > max(alone_a, alone_b) + STREAM_TX / 2
    shared = next(link for link in chip.network.links if link.name == "cmesh:r0,1->r0,2")
    assert shared.transactions == 2 * STREAM_TX
    assert shared.wait_cycles > 0
    assert shared.max_wait_cycles > 0


@pytest.mark.parametrize(
    ("a", "b", "hops"),
    [
        (((0, 0), (0, 3)), ((1, 0), (1, 3)), 3),  # parallel rows
        (((0, 0), (0, 3)), ((0, 3), (0, 0)), 3),  # the same routers, opposite directions
        (((0, 0), (2, 0)), ((0, 1), (2, 1)), 2),  # parallel columns
    ],
)
def test_streams_on_disjoint_links_do_not_slow_each_other(a: tuple, b: tuple, hops: int) -> None:
    alone = [_streams(Chip(E16), [s], MESSAGES, FLOATS)[0] for s in (a, b)]
    chip = Chip(E16)
    together = _streams(chip, [a, b], MESSAGES, FLOATS)
    assert together == alone == [hops * 1.5 + STREAM_TX] * 2
    assert all(link.wait_cycles == 0 for link in chip.network.links)


@pytest.mark.parametrize("n_bytes", [8, 64, 1000])
def test_the_elink_leg_takes_8x_the_cycles_of_the_same_size_on_chip_leg(n_bytes: int) -> None:
    chip = Chip(E16, trace=True)
    off_chip = chip.network.send(HOST, (1, 3), n_bytes)
    on_chip = chip.network.send((1, 1), (0, 1), n_bytes)
    links = chip.network.links
    elink_leg = [end - start for i, start, end in off_chip.link_spans if links[i].kind == "elink-in"]
    cmesh_leg = [end - start for i, start, end in on_chip.link_spans if links[i].kind == "cmesh"]
    transactions = -(-n_bytes // 8)
    assert cmesh_leg == [transactions]  # 8 bytes per cycle
    assert elink_leg == [8 * transactions]  # 1 byte per cycle


# (src, dst, float32 values, expected latency): eLink at 1 byte per cycle on the east edge of the E16.
OFF_CHIP_WRITES = [
    (HOST, (1, 3), 16, 64.0),  # 64 B over the eLink straight into an edge core
    (HOST, (1, 0), 16, 68.5),  # ... then 3 hops west: 64 + 4.5
    ((2, 0), HOST, 16, 68.5),  # 3 hops east to the edge, then 64 B out
    ((0, 3), HOST, 2, 8.0),  # one transaction: 8 cycles
]


@pytest.mark.parametrize(("src", "dst", "n_floats", "expected_cycles"), OFF_CHIP_WRITES)
def test_host_and_dram_writes_cross_the_elink(
    lone_write: Callable, src: tuple, dst: tuple, n_floats: int, expected_cycles: float
) -> None:
    arrived_at, values = lone_write(E16, src, dst, n_floats)
    assert arrived_at == expected_cycles
    np.testing.assert_array_equal(values, np.arange(1, n_floats + 1, dtype=np.float32))


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
        # request: 1 transaction at 8 cycles on the read network + hops; reply: a write.
        ((0, 0), (0, 2), 2, (3 + 8) + (3 + 1)),
        ((0, 0), (0, 2), 4, 2 * ((3 + 8) + (3 + 1))),  # two transactions, one after the other
        # DRAM from an edge core: request 8 + DRAM latency 100 + 8-byte reply over the eLink 8.
        ((0, 3), HOST, 4, 2 * (8 + 100 + 8)),
        ((2, 1), HOST, 2, (3 + 8) + 100 + (8 + 3)),  # 2 hops east to the edge and back
        # The host reads a core: request over the eLink, reply out of it.
        (HOST, (1, 3), 2, 8 + 8),
        (HOST, (1, 0), 2, (8 + 4.5) + (4.5 + 8)),
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


def test_dma_posts_use_two_channels_and_cost_the_core_nothing(chip: Chip) -> None:
    chip.core((0, 1)).sram.alloc("inbox", 20)
    arrivals: list[float] = []
    sender = chip.core((0, 0))

    def program():
        for _ in range(3):  # 80 B = 10 transactions each
            sender.post((0, 1), "inbox", 0, np.ones(20), then=lambda: arrivals.append(chip.env.now))
        yield from sender.compute(5)

    chip.process(program())
    chip.run()
    # 1st: 1.5 + 10. 2nd queues behind it at the port: 10 + 1.5 + 10. 3rd waits for a free
    # channel (cycle 10), then for the port (cycle 20): 20 + 1.5 + 10.
    assert arrivals == [11.5, 21.5, 31.5]
    assert sender.totals == {"compute": 5.0, "wait": 0.0, "send": 0.0}


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
                yield from core.write(dst, "inbox", 0, np.ones(n))

        chip.process(program())
    chip.run()
    net = chip.network
    assert net.bytes_injected == net.bytes_delivered == sent_bytes > 0
    assert net.messages_sent == net.messages_delivered
