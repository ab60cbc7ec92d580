"""The Chrome trace: parses, a track per core and per busy link, spans that add up."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from epiphany_sim.config import load_chip
from epiphany_sim.core import KINDS
from nnmap.model import random_network
from nnmap.run import RunResult, run
from nnmap.trace import CORES_PID, HOST_TID, LINKS_PID, trace_json


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(
        load_chip("e16"), random_network([8, 17, 3], "sigmoid", "sigmoid", 0), "partitioned", trace=True, baseline=False
    )


@pytest.fixture(scope="module")
def events(result: RunResult) -> list[dict]:
    data = json.loads(trace_json(result))
    assert data["otherData"]["strategy"] == "partitioned"
    return data["traceEvents"]


def _names(events: list[dict], pid: int) -> dict[int, str]:
    return {
        e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == pid
    }


def test_one_track_per_core_and_the_host(result: RunResult, events: list[dict]) -> None:
    names = _names(events, CORES_PID)
    assert names[HOST_TID] == "host"
    assert sorted(names) == list(range(result.plan.config.n_cores + 1))
    assert names[1] == "core 0 (0, 0)"
    assert all(e["ph"] in ("M", "X") for e in events)


def test_span_durations_add_up_to_core_totals(result: RunResult, events: list[dict]) -> None:
    us_per_cycle = 1e6 / result.plan.config.clock_hz
    cycles: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(KINDS, 0.0))
    dur_us: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(KINDS, 0.0))
    for e in events:
        if e["ph"] == "X" and e["pid"] == CORES_PID:
            cycles[e["tid"]][e["cat"]] += e["args"]["cycles"]
            dur_us[e["tid"]][e["cat"]] += e["dur"]
            assert e["args"]["layer"]
    for core in result.chip.cores:
        assert cycles[core.index + 1] == pytest.approx(core.totals)
        for kind in KINDS:
            assert dur_us[core.index + 1][kind] == pytest.approx(core.totals[kind] * us_per_cycle)
    assert cycles[HOST_TID]["send"] == pytest.approx(result.chip.host.totals["send"])


def test_a_track_per_busy_link_with_its_bytes(result: RunResult, events: list[dict]) -> None:
    links = result.chip.fabric.links
    names = _names(events, LINKS_PID)
    assert set(names) == {i for i, link in enumerate(links) if link.transfers}
    per_link_bytes: dict[int, int] = defaultdict(int)
    per_link_busy: dict[int, float] = defaultdict(float)
    for e in events:
        if e["ph"] == "X" and e["pid"] == LINKS_PID:
            per_link_bytes[e["tid"]] += e["args"]["bytes"]
            per_link_busy[e["tid"]] += e["args"]["cycles"]
            assert e["args"]["phase"] in ("setup", "compute", "readback")
    for i in names:
        assert names[i] == links[i].name
        assert per_link_bytes[i] == links[i].bytes
        assert per_link_busy[i] == pytest.approx(links[i].busy_cycles)
