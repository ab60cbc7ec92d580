"""Synthetic traffic: patterns, load-latency behaviour, the bisection bound, determinism."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from epiphany_sim import E16, E64, Chip, chip_from_name
from epiphany_sim.errors import TrafficError
from epiphany_sim.traffic import PATTERNS, TrafficSpec, run_traffic, sweep

REQUIRED_KEYS = {
    "chip", "pattern", "offered_rate", "accepted_rate", "avg_latency_cycles", "p99_latency_cycles",
    "avg_hops", "transactions", "saturated", "cycles", "seed", "links",
}


def _pattern(name: str, rows: int, cols: int, **options):
    return PATTERNS[name](rows, cols, TrafficSpec(pattern=name, **options))


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


def test_two_messages_in_opposite_directions_every_cycle_never_queue() -> None:
    # On a 1x2 mesh bit-complement sends 0 -> 1 and 1 -> 0 over separate links: each
    # transaction takes 1 hop (1.5) + 1 cycle; one offered per core per cycle at rate 1.
    cycles = 100
    chip = Chip(chip_from_name("1x2"))
    result = run_traffic(chip, TrafficSpec("bit-complement", 1.0, cycles, seed=0))
    assert result.transactions == 2 * cycles
    assert result.avg_latency_cycles == result.max_latency_cycles == 2.5
    assert result.accepted_rate == (cycles - 2) / cycles  # the last two arrive after the window
    assert not result.saturated
    utilisation = {row["link"]: row["utilisation"] for row in result.links}
    assert utilisation["cmesh:r0,0->r0,1"] == 1.0
    assert utilisation["eject:r0,1->c0,1"] == (cycles - 1.5) / cycles


def test_near_zero_load_latency_is_the_lone_message_formula_averaged_over_routes(manhattan: Callable) -> None:
    chip = Chip(E64, trace=True)
    result = run_traffic(chip, TrafficSpec("uniform", 0.002, 20_000, seed=4))
    transfers = chip.network.transfers
    assert len(transfers) == result.transactions > 2000
    over_routes = np.mean([manhattan(t.src, t.dst) * 1.5 + 1 for t in transfers])
    assert result.avg_latency_cycles == pytest.approx(over_routes, rel=0.005)
    # Uniform over the other cores of a k x k mesh: mean distance 2k/3, so k + 1 cycles.
    assert result.avg_hops == pytest.approx(2 * 8 / 3, abs=0.15)
    assert result.avg_latency_cycles == pytest.approx(8 + 1, abs=0.25)


def test_latency_rises_sharply_as_the_offered_rate_approaches_saturation() -> None:
    low, mid, high, over = sweep(E64, TrafficSpec("uniform", cycles=3000, seed=2), [0.05, 0.2, 0.3, 0.6])
    assert [r.offered_rate for r in (low, mid, high, over)] == [0.05, 0.2, 0.3, 0.6]
    assert low.avg_latency_cycles < 10
    assert high.avg_latency_cycles - mid.avg_latency_cycles > 5 * (mid.avg_latency_cycles - low.avg_latency_cycles)
    assert high.avg_latency_cycles > 2 * low.avg_latency_cycles
    assert over.p99_latency_cycles > 5 * high.p99_latency_cycles
    assert not low.saturated
    assert not mid.saturated
    assert over.saturated
    assert over.accepted_rate < 0.9 * over.injected_rate
    for result in (low, mid):
        assert result.accepted_rate == pytest.approx(result.offered_rate, rel=0.05)


@pytest.mark.parametrize(("k", "rate", "cycles"), [(4, 1.0, 2000), (8, 0.6, 1500), (8, 1.0, 1500)])
def test_accepted_uniform_throughput_never_exceeds_the_bisection_bound(k: int, rate: float, cycles: int) -> None:
    result = run_traffic(Chip(chip_from_name(f"{k}x{k}")), TrafficSpec("uniform", rate, cycles, seed=5))
    assert result.injected_rate == pytest.approx(rate, rel=0.02)
    # k links cross the middle in each direction; half of all traffic must cross them.
    assert result.accepted_rate <= 4 / k
    if 4 / k < rate:
        assert result.saturated


def test_link_utilisation_is_the_busy_share_of_the_window() -> None:
    cycles = 400
    chip = Chip(E16, trace=True)
    result = run_traffic(chip, TrafficSpec("uniform", 0.45, cycles, seed=3))
    busy: Counter[str] = Counter()
    names = [link.name for link in chip.network.links]
    for transfer in chip.network.transfers:
        for index, start, end in transfer.link_spans:
            busy[names[index]] += max(0.0, min(end, cycles) - start)
    rows = {row["link"]: row["utilisation"] for row in result.links}
    assert len(rows) == 16 + 16 + 48  # inject and eject ports of 16 cores, 48 directed mesh links
    for name, utilisation in rows.items():
        assert utilisation == pytest.approx(busy[name] / cycles, abs=1e-12)
    assert result.max_link_utilisation == max(rows.values()) <= 1.0
    delivered = sum(t.delivered_at <= cycles for t in chip.network.transfers)
    assert result.accepted_rate == delivered / (16 * cycles)


def test_every_byte_offered_is_delivered() -> None:
    chip = Chip(E16)
    result = run_traffic(chip, TrafficSpec("hotspot", 0.8, 500, seed=1))
    net = chip.network
    assert net.bytes_injected == net.bytes_delivered == 8 * result.transactions
    assert net.messages_delivered == result.transactions
    assert result.drained_at_cycle == chip.env.now


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_the_same_seed_gives_identical_json(pattern: str) -> None:
    def run(seed: int) -> str:
        spec = TrafficSpec(pattern, 0.3, 800, seed=seed)
        return json.dumps(run_traffic(Chip(E16), spec).to_dict(), sort_keys=True)

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
        ({"pattern": "tornado"}, "unknown traffic pattern 'tornado'"),
        ({"hotspot_fraction": 1.5}, "hotspot_fraction"),
    ],
)
def test_malformed_traffic_requests_are_traffic_errors(options: dict, message: str) -> None:
    with pytest.raises(TrafficError, match=message):
        TrafficSpec(**options)


def test_impossible_traffic_is_a_traffic_error() -> None:
    with pytest.raises(TrafficError, match="square"):
        run_traffic(Chip(chip_from_name("2x3")), TrafficSpec("transpose"))
    with pytest.raises(TrafficError, match="outside"):
        run_traffic(Chip(E16), TrafficSpec("hotspot", hotspot=(4, 0)))
    with pytest.raises(TrafficError, match="at least 2 cores"):
        run_traffic(Chip(chip_from_name("1x1")), TrafficSpec("uniform"))
    with pytest.raises(TrafficError, match="no transaction was offered"):
        run_traffic(Chip(E16), TrafficSpec("uniform", 1e-9, 5))
    used = Chip(E16)
    run_traffic(used, TrafficSpec("neighbor", 0.1, 50))
    with pytest.raises(TrafficError, match="fresh chip"):
        run_traffic(used, TrafficSpec("neighbor", 0.1, 50))
