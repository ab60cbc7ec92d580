"""Synthetic traffic: patterns, load-latency behaviour, the bisection bound, determinism."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from epiphany_sim import E16, E64, Chip, chip_from_name
from epiphany_sim.errors import TrafficError
from epiphany_sim.traffic import TRAFFIC_PATTERNS, TrafficResult, TrafficSpec, run_traffic, sweep

REQUIRED_KEYS = {
    "chip",
    "pattern",
    "offered_rate",
    "accepted_rate",
    "avg_latency_cycles",
    "p99_latency_cycles",
    "zero_load_latency_cycles",
    "avg_hops",
    "transactions",
    "delivered_fraction",
    "saturated",
    "cycles",
    "warmup_cycles",
    "drain_cycles",
    "seed",
    "links",
}


def _pattern(name: str, rows: int, cols: int, **options):
    return TRAFFIC_PATTERNS[name](rows, cols, TrafficSpec(pattern=name, **options))


def test_transpose_sends_r_c_to_c_r_and_silences_the_diagonal() -> None:
    pattern = _pattern("transpose", 4, 4)
    for r in range(4):
        for c in range(4):
            assert pattern.targets[r * 4 + c] == c * 4 + r
    assert pattern.senders().tolist() == [i for i in range(16) if i not in (0, 5, 10, 15)]


def test_bit_complement_is_the_complement_of_the_index_bits() -> None:
    pattern = _pattern("bit-complement", 4, 4)
    assert pattern.targets.tolist() == [~i & 0b1111 for i in range(16)]
    odd = _pattern("bit-complement", 3, 5)
    assert odd.targets[0 * 5 + 1] == 2 * 5 + 3  # (0, 1) -> (2, 3)
    assert 1 * 5 + 2 not in odd.senders()  # the centre (1, 2) maps onto itself


def test_uniform_never_sends_to_itself_and_reaches_every_other_core_evenly() -> None:
    pattern = _pattern("uniform", 4, 4)
    sources = np.repeat(np.arange(16), 3000)
    dests = pattern.destinations(sources, np.random.default_rng(0))
    assert not np.any(dests == sources)
    counts = Counter(dests[sources == 6].tolist())
    assert sorted(counts) == [i for i in range(16) if i != 6]
    assert max(counts.values()) < 1.25 * 3000 / 15
    assert min(counts.values()) > 0.75 * 3000 / 15


def test_neighbor_sends_one_hop_to_every_neighbour(manhattan: Callable) -> None:
    pattern = _pattern("neighbor", 4, 4)
    sources = np.repeat(np.arange(16), 200)
    dests = pattern.destinations(sources, np.random.default_rng(0))
    assert all(manhattan(divmod(s, 4), divmod(d, 4)) == 1 for s, d in zip(sources, dests, strict=True))
    assert set(dests[sources == 0].tolist()) == {1, 4}  # the corner's two neighbours
    assert set(dests[sources == 5].tolist()) == {1, 4, 6, 9}


def test_hotspot_gets_its_share_plus_its_uniform_share() -> None:
    pattern = _pattern("hotspot", 4, 4, hotspot=(1, 2), hotspot_fraction=0.3)
    sources = np.repeat(np.array([0, 3, 15]), 20_000)
    dests = pattern.destinations(sources, np.random.default_rng(0))
    expected = 0.3 + 0.7 / 15  # sent there on purpose, or drawn there by the uniform part
    assert abs(np.mean(dests == 6) - expected) < 0.01
    from_hotspot = pattern.destinations(np.full(3000, 6), np.random.default_rng(1))
    assert not np.any(from_hotspot == 6)


def _run(chip: Chip, pattern: str, rate: float, cycles: int, **options) -> TrafficResult:
    return run_traffic(chip, TrafficSpec(pattern, rate, cycles, **options))


def test_two_messages_in_opposite_directions_every_cycle_never_queue() -> None:
    # On a 1x2 mesh bit-complement sends 0 -> 1 and 1 -> 0 over separate links: each
    # transaction takes 1 hop (1.5) + 1 cycle; one offered per core per cycle at rate 1.
    cycles = 100
    result = _run(
        Chip(chip_from_name("1x2"), record=True), "bit-complement", 1.0, cycles, warmup_cycles=10, drain_cycles=10
    )
    assert result.transactions == 2 * cycles
    assert result.avg_latency_cycles == result.max_latency_cycles == result.zero_load_latency_cycles == 2.5
    assert result.accepted_rate == 1.0  # one arrival per core in every cycle of the window
    assert result.delivered_fraction == 1.0
    assert not result.saturated
    utilisation = {row["link"]: row["utilisation"] for row in result.links}
    assert utilisation["cmesh:r0,0->r0,1"] == utilisation["eject:r0,1->c0,1"] == 1.0


def test_near_zero_load_latency_is_the_lone_message_formula_averaged_over_routes(manhattan: Callable) -> None:
    chip = Chip(E64, record=True)
    result = _run(chip, "uniform", 0.002, 20_000, seed=4)
    window = [t for t in chip.fabric.transfers if 1000 <= t.sent_at < 21_000]
    assert len(window) == result.transactions > 2000
    over_routes = np.mean([manhattan(t.src, t.dst) * 1.5 + 1 for t in window])
    assert result.zero_load_latency_cycles == pytest.approx(over_routes, rel=1e-12)
    assert result.avg_latency_cycles == pytest.approx(over_routes, rel=0.005)
    # Uniform over the other cores of a k x k mesh: mean distance 2k/3, so k + 1 cycles.
    assert result.avg_hops == pytest.approx(2 * 8 / 3, abs=0.15)
    assert result.avg_latency_cycles == pytest.approx(8 + 1, abs=0.25)


@pytest.mark.slow
def test_latency_rises_sharply_toward_saturation_and_is_not_reported_beyond() -> None:
    low, mid, high, over = sweep(E64, TrafficSpec("uniform", cycles=3000, seed=2), [0.05, 0.15, 0.25, 0.6])
    assert [r.offered_rate for r in (low, mid, high, over)] == [0.05, 0.15, 0.25, 0.6]
    assert low.avg_latency_cycles < 10
    assert high.avg_latency_cycles - mid.avg_latency_cycles > 3 * (mid.avg_latency_cycles - low.avg_latency_cycles)
    assert not any(r.saturated for r in (low, mid, high))
    assert over.saturated
    assert over.avg_latency_cycles is over.p99_latency_cycles is over.max_latency_cycles is None
    assert over.accepted_rate < 0.9 * over.injected_rate
    for result in (low, mid, high):
        assert result.accepted_rate == pytest.approx(result.offered_rate, rel=0.05)


@pytest.mark.slow
def test_saturated_latency_does_not_grow_with_the_run() -> None:
    short, long = (_run(Chip(E64, record=True), "uniform", 0.45, cycles, seed=1) for cycles in (2000, 6000))
    assert short.saturated
    assert long.saturated
    assert short.avg_latency_cycles is long.avg_latency_cycles is None
    assert long.accepted_rate == pytest.approx(short.accepted_rate, rel=0.05)


@pytest.mark.parametrize(("k", "rate"), [(4, 0.5), (4, 1.0), (8, 0.3), (8, 0.6), (8, 1.0)])
def test_accepted_uniform_throughput_never_exceeds_the_bisection_bound(k: int, rate: float) -> None:
    result = _run(
        Chip(chip_from_name(f"{k}x{k}"), record=True),
        "uniform",
        rate,
        1500,
        seed=5,
        warmup_cycles=500,
        drain_cycles=500,
    )
    assert result.injected_rate == pytest.approx(rate, rel=0.03)
    # k links cross the middle in each direction; half of all traffic must cross them.
    assert result.accepted_rate <= 4 / k
    if 4 / k < rate:
        assert result.saturated


def _saturation_throughput(depth: int) -> float:
    results = sweep(
        E64.replace(router_fifo_depth=depth),
        TrafficSpec("uniform", cycles=1500, seed=6, warmup_cycles=500, drain_cycles=500),
        [0.2, 0.3, 0.4, 0.5],
    )
    return max(r.accepted_rate for r in results)


@pytest.mark.slow
def test_shallow_router_fifos_saturate_the_mesh_earlier() -> None:
    one, eight = _saturation_throughput(1), _saturation_throughput(8)
    assert one < 0.9 * eight
    assert eight <= 0.5


def _probe_latency(with_hotspot: bool) -> float:
    """Mean latency of a probe flow (4,0) -> (0,6) on an 8x8 mesh, which runs east along row 4
    through the router of the hotspot (4,6) and turns north there, while the five cores between
    them flood the hotspot at half a transaction per cycle each (or stay silent)."""
    chip = Chip(E64, record=True)
    fabric = chip.fabric
    times = [np.arange(0, 8000, 8)]  # one probe every 4 cycles
    src = [np.full(len(times[0]), fabric.endpoint((4, 0)))]
    dst = [np.full(len(times[0]), fabric.endpoint((0, 6)))]
    if with_hotspot:
        for col in range(1, 6):
            times.append(np.arange(0, 8000, 4))
            src.append(np.full(len(times[-1]), fabric.endpoint((4, col))))
            dst.append(np.full(len(times[-1]), fabric.endpoint((4, 6))))
    ticks = np.concatenate(times)
    order = np.argsort(ticks, kind="stable")
    fabric.post_many(np.concatenate(src)[order], np.concatenate(dst)[order], ticks[order], 8)
    chip.run()
    return float(np.mean([t.latency_cycles for t in fabric.transfers if t.src == (4, 0)]))


def test_a_flow_behind_hotspot_traffic_is_blocked_at_the_head_of_its_fifos() -> None:
    alone, blocked = _probe_latency(False), _probe_latency(True)
    assert alone == 10 * 1.5 + 1  # six hops east, four north, no contention
    # The probe never goes to the hotspot, yet it queues behind hotspot-bound transactions that
    # wait for the hotspot's port in the full FIFOs of row 4 (head-of-line blocking).
    assert blocked > 3 * alone


@pytest.mark.slow
@pytest.mark.parametrize("pattern", list(TRAFFIC_PATTERNS))
def test_no_link_carries_two_transactions_at_once_under_any_pattern(pattern: str) -> None:
    chip = Chip(E16, trace=True)
    _run(chip, pattern, 0.9, 300, seed=9, warmup_cycles=100, drain_cycles=100)
    chip.run()  # let every queued transaction arrive, so that every span belongs to a transfer
    per_link: dict[int, list[tuple[float, float]]] = {}
    for transfer in chip.fabric.transfers:
        for index, start, end in transfer.link_spans:
            per_link.setdefault(index, []).append((start, end))
    for index, spans in per_link.items():
        spans.sort()
        assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(spans)), chip.fabric.links[index].name
        assert chip.fabric.links[index].busy_cycles == sum(end - start for start, end in spans)


@pytest.mark.slow
def test_link_utilisation_is_the_busy_share_of_the_window() -> None:
    cycles, warmup = 400, 100
    chip = Chip(E16, trace=True)
    result = _run(chip, "uniform", 0.2, cycles, seed=3, warmup_cycles=warmup)
    busy: Counter[str] = Counter()
    names = [link.name for link in chip.fabric.links]
    for transfer in chip.fabric.transfers:
        for index, start, end in transfer.link_spans:
            if warmup <= start < warmup + cycles:  # a transaction counts in the cycle it starts across
                busy[names[index]] += end - start
    rows = {row["link"]: row["utilisation"] for row in result.links}
    assert len(rows) == 16 + 16 + 48  # inject and eject ports of 16 cores, 48 directed mesh links
    for name, utilisation in rows.items():
        assert utilisation == pytest.approx(busy[name] / cycles, abs=1e-12)
    assert result.max_link_utilisation == max(rows.values()) <= 1.0
    arrived = sum(warmup <= t.delivered_at < warmup + cycles for t in chip.fabric.transfers)
    assert result.accepted_rate == arrived / (16 * cycles)


def test_bytes_are_conserved_in_flight_and_after_the_drain() -> None:
    chip = Chip(E16, record=True)
    result = _run(chip, "hotspot", 0.8, 500, seed=1)
    fabric = chip.fabric
    assert fabric.bytes_injected == 8 * fabric.messages_sent
    assert fabric.bytes_delivered == 8 * fabric.messages_delivered
    assert fabric.bytes_delivered <= fabric.bytes_injected
    chip.run()  # let every queued transaction arrive
    assert fabric.bytes_injected == fabric.bytes_delivered
    assert fabric.messages_delivered == fabric.messages_sent >= result.transactions


@pytest.mark.parametrize("pattern", list(TRAFFIC_PATTERNS))
def test_the_same_seed_gives_identical_json(pattern: str) -> None:
    def run(seed: int) -> str:
        return json.dumps(_run(Chip(E16, record=True), pattern, 0.3, 800, seed=seed).to_dict(), sort_keys=True)

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert REQUIRED_KEYS <= json.loads(first).keys()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -0.1}, "rate"),
        ({"rate": 1.5}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": True}, "rate"),
        ({"cycles": 0}, "cycles"),
        ({"cycles": 10.5}, "cycles"),
        ({"seed": -1}, "seed"),
        ({"warmup_cycles": -1}, "warmup_cycles"),
        ({"drain_cycles": 2.5}, "drain_cycles"),
        ({"pattern": "tornado"}, "unknown traffic pattern 'tornado'"),
        ({"hotspot_fraction": 1.5}, "hotspot_fraction"),
    ],
)
def test_malformed_traffic_requests_are_traffic_errors(options: dict, message: str) -> None:
    with pytest.raises(TrafficError, match=message):
        TrafficSpec(**options)


def test_impossible_traffic_is_a_traffic_error() -> None:
    with pytest.raises(TrafficError, match="square"):
        run_traffic(Chip(chip_from_name("2x3"), record=True), TrafficSpec("transpose"))
    with pytest.raises(TrafficError, match="outside"):
        run_traffic(Chip(E16, record=True), TrafficSpec("hotspot", hotspot=(4, 0)))
    with pytest.raises(TrafficError, match="at least 2 cores"):
        run_traffic(Chip(chip_from_name("1x1"), record=True), TrafficSpec("uniform"))
    with pytest.raises(TrafficError, match="no transaction was offered"):
        run_traffic(Chip(E16, record=True), TrafficSpec("uniform", 1e-9, 5))
    used = Chip(E16, record=True)
    run_traffic(used, TrafficSpec("neighbor", 0.1, 50))
    with pytest.raises(TrafficError, match="fresh chip"):
        run_traffic(used, TrafficSpec("neighbor", 0.1, 50))
