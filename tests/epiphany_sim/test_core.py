"""Cores and the host: computing, waiting for data, deadlock reports, host and DRAM traffic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from epiphany_sim import E16, HOST, Chip, DeadlockError
from epiphany_sim.files import write_json
from epiphany_sim.stats import summary, time_split


def test_a_core_waits_for_data_and_resumes_when_it_arrives(chip: Chip) -> None:
    receiver, sender = chip.core((2, 2)), chip.core((0, 0))
    receiver.sram.alloc("x", 4)
    resumed: list[float] = []

    def receive():
        yield from receiver.wait("x", 4)
        resumed.append(chip.env.now)
        yield from receiver.compute(10, "use x")

    def send():
        yield from sender.compute(20)
        yield from sender.write((2, 2), "x", 0, np.ones(4))

    chip.process(receive())
    chip.process(send())
    chip.run()
    # 16 B copied out of the sender's SRAM: two transactions 9 cycles apart (a load and a store
    # each, copy_cycles_per_transaction), the second into the router at 29 and after 4 hops at
    # 29 + 1 + 6 = 36; the receiver's poll loop sees them on its next pass (5 cycles).
    assert resumed == [20 + 9 + 1 + 4 * 1.5 + 5]
    assert time_split(receiver, 0, 51) == {"compute": 10.0, "wait": 41.0, "send": 0.0, "idle": 0.0}
    assert time_split(sender, 0, 51) == {"compute": 20.0, "wait": 0.0, "send": 10.0, "idle": 21.0}


def test_remote_stores_and_polling_are_the_core_s_own_time(chip: Chip) -> None:
    core = chip.core((0, 0))
    core.sram.alloc("flag", 1).store(0, np.ones(1, np.float32))
    chip.core((2, 1)).sram.alloc("x", 16)

    def program():
        yield from core.write((2, 1), "x", 0, np.ones(16), "store x")
        yield from core.wait("flag", 1, "poll flag")  # already set: one pass of the poll loop

    chip.process(program())
    chip.run()
    # 64 B copied out of SRAM leave as 8 transactions 9 cycles apart, the last into the router
    # at 63 and out of the port at 64; one poll pass costs poll_cycles (5).
    assert [(a.kind, a.start, a.end, a.label) for a in core.activities] == [
        ("send", 0.0, 64.0, "store x"),
        ("wait", 64.0, 69.0, "poll flag"),
    ]
    assert core.totals == {"compute": 0.0, "wait": 5.0, "send": 64.0}


def test_waiting_for_data_that_never_comes_is_a_deadlock_naming_core_and_buffer(chip: Chip) -> None:
    chip.core((1, 2)).sram.alloc("partial", 4)
    chip.core((0, 1)).sram.alloc("flag", 1)

    def waits(core, buffer, count):
        yield from core.wait(buffer, count)

    def writes_three():
        yield from chip.core((0, 0)).write((1, 2), "partial", 0, np.ones(3))

    chip.process(waits(chip.core((1, 2)), "partial", 4))
    chip.process(waits(chip.core((0, 1)), "flag", 1))
    chip.process(writes_three())
    with pytest.raises(DeadlockError) as info:
        chip.run()
    waiting = info.value.waiting
    assert len(waiting) == 2
    assert "core 6 (1, 2)" in waiting[0]
    assert "partial to reach 4 writes (has 3)" in waiting[0]
    assert "core 1 (0, 1)" in waiting[1]
    assert "flag to reach 1 writes (has 0)" in waiting[1]
    assert str(info.value).startswith("deadlock: ")


def test_a_deadlock_error_raised_in_a_process_keeps_its_list(chip: Chip) -> None:
    def program():
        yield chip.env.timeout(1)
        raise DeadlockError(["core 0 waits for h1", "core 1 waits for h2"])

    chip.process(program())
    with pytest.raises(DeadlockError) as info:
        chip.run()
    assert info.value.waiting == ["core 0 waits for h1", "core 1 waits for h2"]
    assert str(info.value) == "deadlock: no event left but core 0 waits for h1; core 1 waits for h2"


def test_host_writes_inputs_and_reads_results_back(chip: Chip) -> None:
    core = chip.core((1, 3))
    core.sram.alloc("x", 4)
    core.sram.alloc("y", 2)
    results: list[np.ndarray] = []

    def host():
        yield from chip.host.write((1, 3), "x", 0, np.array([1.0, 2.0, 3.0, 4.0]))

    def kernel():
        yield from core.wait("x", 4)
        x = core.sram["x"].load()
        core.sram["y"].store(0, np.array([x.sum(), x.prod()], dtype=np.float32))
        yield from core.compute(4)
        results.append((yield from chip.host.read((1, 3), "y", 0, 2)))

    chip.process(host())
    chip.process(kernel())
    chip.run()
    np.testing.assert_array_equal(results[0], [10.0, 24.0])
    # 16 B in through the host library, 2 transactions 313 cycles apart: the first a whole packet
    # on the eLink (14 cycles), the second continues its burst (9) and enters the edge core's
    # xMesh port (1); the kernel's poll (5), 4 cycles of compute, an 8-byte read: the library's
    # access (313), the request over the eLink (14 cycles) and the rMesh port (8), the reply out,
    # the first write on the outgoing path, a whole packet (0.5 + 14).
    assert chip.env.now == (313 + 9 + 1) + 5 + 4 + 313 + (14 + 8) + (0.5 + 14)


def test_cores_write_to_and_read_from_dram(chip: Chip) -> None:
    chip.dram.alloc("shared", 6)
    got: list[np.ndarray] = []

    def producer():
        yield from chip.core((3, 0)).write(HOST, "shared", 0, np.arange(6) * 2.0)

    def consumer():
        yield chip.env.timeout(200)
        got.append((yield from chip.core((0, 3)).read(HOST, "shared", 2, 4)))

    chip.process(producer())
    chip.process(consumer())
    chip.run()
    np.testing.assert_array_equal(chip.dram["shared"].load(), [0, 2, 4, 6, 8, 10])
    np.testing.assert_array_equal(got[0], [4, 6, 8, 10])


def test_summary_totals_are_conserved_and_export_as_json(chip: Chip, tmp_path: Path) -> None:
    for core in chip.cores:
        core.sram.alloc("inbox", 8)

    def program(core):
        yield from core.compute(3)
        yield from core.write(chip.cores[(core.index + 5) % 16].coord, "inbox", 0, np.ones(8))

    for core in chip.cores:
        chip.process(program(core))
    chip.run()
    data = summary(chip)
    assert data["totals"]["bytes_injected"] == data["totals"]["bytes_delivered"] == 16 * 32
    assert data["totals"]["messages_sent"] == data["totals"]["messages_delivered"] == 16
    assert all(row["compute"] == 3.0 for row in data["cores"])
    path = tmp_path / "summary.json"
    write_json(data, path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(data))


def test_the_same_program_gives_the_same_cycles_to_the_bit() -> None:
    def run() -> list[float]:
        chip = Chip(E16)
        rng = np.random.default_rng(3)
        for core in chip.cores:
            core.sram.alloc("inbox", 256)
        arrivals: list[float] = []

        def program(core, dsts):
            for dst in dsts:
                arrivals.append((yield from core.write(dst, "inbox", 0, np.ones(64))))

        for core in chip.cores:
            dsts = [chip.cores[int(i)].coord for i in rng.integers(0, 16, 5) if int(i) != core.index]
            chip.process(program(core, dsts))
        chip.run()
        return arrivals

    assert run() == run()


def _relay_through_middle(chip: Chip, middle_program) -> list[float]:
    """Core (0, 0) writes one value into core (0, 1)'s ``h`` at cycle 0; (0, 1) relays what comes
    from (0, 0) into ``h`` on to (0, 2); returns when (0, 2) saw it."""
    for coord in ((0, 0), (0, 1), (0, 2)):
        chip.core(coord).sram.alloc("h", 1)
    chip.core((0, 1)).sram.alloc("flag", 1)
    chip.add_relay((0, 1), "h", (0, 0), (0, 2))
    seen: list[float] = []

    def first():
        yield from chip.core((0, 0)).write((0, 1), "h", 0, np.array([2.5]))

    def last():
        yield from chip.core((0, 2)).wait("h", 1)
        seen.append(chip.env.now)

    for process in (first(), middle_program(chip.core((0, 1))), last()):
        chip.process(process)
    chip.run()
    np.testing.assert_array_equal(chip.core((0, 2)).sram["h"].data, [2.5])
    return seen


def test_a_relay_costs_the_relaying_core_a_poll_and_its_stores_after_its_work(chip: Chip) -> None:
    def middle(core):
        yield from core.compute(100, "work")

    seen = _relay_through_middle(chip, middle)
    # The value lands at (0, 1) at 2.5 (a cycle into the router, a hop); its poll loop notices it
    # 5 cycles later and stores it on (1 + 1.5): (0, 2) has it at 10 and sees it at 15.
    assert seen == [2.5 + 5 + 2.5 + 5]
    # The middle core pays the poll (5) and the copy of one transaction (9) after its work.
    core = chip.core((0, 1))
    assert [(a.kind, a.start, a.end, a.label) for a in core.activities] == [
        ("compute", 0.0, 100.0, "work"),
        ("send", 100.0, 114.0, "relay"),
    ]


def test_a_relay_that_arrives_during_a_wait_is_forwarded_within_it(chip: Chip) -> None:
    def middle(core):
        yield from core.wait("flag", 1, "wait flag")

    def flag():
        yield from chip.core((1, 1)).compute(50)
        yield from chip.core((1, 1)).write((0, 1), "flag", 0, np.ones(1), copy=False)

    chip.process(flag())
    _relay_through_middle(chip, middle)
    # The flag lands at 50 + 1 + 1.5 and is seen 5 cycles later, at 57.5; the relay's 14 cycles
    # end that wait.
    core = chip.core((0, 1))
    assert [(a.kind, a.start, a.end, a.label) for a in core.activities] == [
        ("wait", 0.0, 43.5, "wait flag"),
        ("send", 43.5, 57.5, "relay"),
    ]
