"""The compiled loop runs a phase's programs with every result of the simpy processes, to the bit.

The same loop run as plain Python (``NUMBA_DISABLE_JIT=1``) is compared with it compiled in
``tests/test_jit_disabled.py``, whose mapped forward passes run their compute phase in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import pytest
import simpy

from epiphany_sim import chip_from_name
from epiphany_sim.config import E16
from epiphany_sim.errors import DeadlockError
from nnmap.model import random_inputs, random_network
from nnmap.programs import Fill, Op, PollDram, Send, Signal, Wait, WaitFlags, engine
from nnmap.run import run
from nnmap.session import Session

RUNS = {
    "partitioned bidir e16": ("e16", [6, 16, 4], "partitioned", "bidir", False),
    "partitioned oneway 2x3 traced": ("2x3", [9, 13, 4], "partitioned", "oneway", True),
    "round-robin e16": ("e16", [5, 12, 3], "round-robin", None, False),
    "allgather e16 traced": ("e16", [6, 10, 4], "allgather", None, True),
    "node-per-core 2x3": ("2x3", [9, 13, 4], "node-per-core", None, False),
}


def everything(chip: str, layers: list[int], strategy: str, broadcast: str | None, trace: bool) -> dict[str, Any]:
    """Every simulated number of one mapped run, times as Python floats (their type may differ)."""
    net = random_network(layers, seed=5)
    result = run(chip_from_name(chip), net, strategy, random_inputs(net, 2, seed=5), broadcast, trace=trace)
    sim = result.chip
    agents = [*sim.cores, sim.host]
    found = {
        "phases": {name: float(value) for name, value in vars(result.phases).items()},
        "outputs": result.outputs.tobytes().hex(),
        "activities": [
            [(a.kind, float(a.start), float(a.end), a.label, str(a.segment), a.n_bytes) for a in agent.activities]
            for agent in agents
        ],
        "totals": [agent.totals for agent in agents],
        "links": [(link.bytes, link.busy_cycles, link.wait_cycles) for link in sim.fabric.links],
        "messages": sim.fabric.messages_sent,
    }
    if trace:
        found["transfers"] = [(t.sent_at, t.delivered_at, t.label, t.link_spans) for t in sim.fabric.transfers]
    return found


def counting_compiled(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record what ``engine.compiles`` answers during the test."""
    answers: list[bool] = []
    compiles = engine.compiles

    def spy(*args: Any) -> bool:
        answers.append(compiles(*args))
        return answers[-1]

    monkeypatch.setattr(engine, "compiles", spy)
    return answers


@pytest.mark.parametrize("name", list(RUNS))
def test_the_compiled_loop_gives_every_number_simpy_gives(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = counting_compiled(monkeypatch)
    compiled = everything(*RUNS[name])
    assert answers  # the run's compute phase (and its single-core baseline's, if any)
    assert all(answers)
    monkeypatch.setattr(engine, "COMPILED", False)
    answers.clear()
    simulated = everything(*RUNS[name])
    assert answers
    assert not any(answers)
    assert json.dumps(compiled, sort_keys=True) == json.dumps(simulated, sort_keys=True)


def run_programs(session: Session, programs: dict[tuple, list[Op]]) -> float:
    """Run ``programs`` as a mapped run's compute phase does; return the cycle they ended at."""
    ended: list[float] = []

    def driver() -> Generator[simpy.Event, Any, None]:
        yield engine.start(session.chip, programs)
        ended.append(session.now)

    session.process(driver())
    session.run()
    return ended[0]


def both_ways(monkeypatch: pytest.MonkeyPatch, make: Callable[[], Session], programs: dict[tuple, list[Op]]) -> list:
    """The end cycle, activities and memory of ``programs`` run compiled, then on simpy."""
    found = []
    for compiled in (True, False):
        monkeypatch.setattr(engine, "COMPILED", compiled)
        session = make()
        assert engine.compiles(session.chip, programs) == compiled
        end = run_programs(session, programs)
        cores = [session.chip.core(coord) for coord in programs]
        found.append((end, [c.activities for c in cores], session.chip.fabric.memory.tobytes()))
    return found


def test_a_flag_and_a_store_to_itself_wake_a_waiting_core_as_on_simpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """(0, 0) signals (3, 3) twice and stores into its own buffer; (3, 3) waits for both flags,
    then sends back what (0, 0) stored. Both ways give the same cycles, spans and memory."""
    layout = {(0, 0): {"v": 4, "w": 4, "back": 4}, (3, 3): {"flag": 2, "got": 4}}

    def make() -> Session:
        session = Session(E16, layout)
        session.chip.core((0, 0)).sram["v"].store(0, np.arange(4, dtype=np.float32))
        return session

    programs: dict[tuple, list[Op]] = {
        (0, 0): [
            Signal((3, 3), "flag", 0, 1.0),
            Send((0, 0), "w", 0, "v", 0, 4),
            Signal((3, 3), "flag", 1, 2.0),
            Send((3, 3), "got", 0, "w", 0, 4),
            Wait("back", 4),
        ],
        (3, 3): [Wait("flag", 2), Wait("got", 4), Send((0, 0), "back", 0, "got", 0, 4)],
    }
    compiled, simulated = both_ways(monkeypatch, make, programs)
    assert compiled == simulated
    back = np.frombuffer(compiled[2], np.float32)[make().chip.core((0, 0)).sram["back"].word(0) :][:4]
    np.testing.assert_array_equal(back, np.arange(4))


def test_a_core_waiting_for_writes_nobody_makes_is_reported_as_on_simpy(monkeypatch: pytest.MonkeyPatch) -> None:
    layout = {(0, 0): {"x": 2}, (1, 0): {"y": 2}}
    programs: dict[tuple, list[Op]] = {(0, 0): [Wait("x", 1)], (1, 0): [Send((0, 0), "x", 0, "y", 0, 0), Wait("y", 2)]}
    messages, spans = [], []
    for compiled in (True, False):
        monkeypatch.setattr(engine, "COMPILED", compiled)
        session = Session(E16, layout)
        assert engine.compiles(session.chip, programs) == compiled
        with pytest.raises(DeadlockError) as caught:
            run_programs(session, programs)
        messages.append(str(caught.value))
        spans.append([session.chip.core(coord).activities for coord in programs])
        assert session.chip.env.guest is None  # the loop handed its cores back when the run stopped
    assert messages[0] == messages[1]
    assert spans[0] == spans[1]
    assert spans[0][1]  # (1, 0)'s send
    assert "core 0 (0, 0) id 0x808 waits for x to reach 1 writes (has 0)" in messages[0]
    assert "waits for y to reach 2 writes (has 0)" in messages[0]


def test_a_program_with_an_op_the_loop_does_not_run_runs_on_simpy(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = counting_compiled(monkeypatch)
    session = Session(E16, {(0, 0): {"v": 4}}, {"flag": 1})
    session.chip.dram["flag"].store(0, np.ones(1, np.float32))
    end = run_programs(session, {(0, 0): [Fill("v", 0, 4, 3.0), PollDram("flag", 1, 1.0)]})
    assert answers == [False]
    assert end > 0
    np.testing.assert_array_equal(session.chip.core((0, 0)).sram["v"].data, [3.0] * 4)


def test_a_log_emptied_many_times_and_a_payload_grown_mid_phase_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A span log of 8 rows makes the loop hand its spans to Python every few events, and a write of
    3,000 values (more payload than the fabric first keeps) makes it stop for room: the results stay
    the simpy processes'."""
    monkeypatch.setattr(engine, "_LOG_ROWS", 8)
    layout = {(0, 0): {"v": 3000, "w": 4}, (2, 1): {"got": 3000, "w": 4}}

    def make() -> Session:
        session = Session(E16, layout)
        session.chip.core((0, 0)).sram["v"].store(0, np.linspace(0, 1, 3000, dtype=np.float32))
        return session

    flags: list[Op] = [Signal((2, 1), "w", i, float(i), f"flag {i}") for i in range(4)]
    programs: dict[tuple, list[Op]] = {
        (0, 0): [Send((2, 1), "got", 0, "v", 0, 3000), *flags, Wait("w", 1)],
        (2, 1): [Wait("got", 3000), Wait("w", 4), Send((0, 0), "w", 0, "got", 2999, 1)],
    }
    compiled, simulated = both_ways(monkeypatch, make, programs)
    assert compiled == simulated
    assert len(compiled[1][0]) == 6  # (0, 0)'s send, four flags and wait: more than the log holds


def test_a_mac_with_a_stride_below_one_runs_on_simpy_which_refuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from nnmap.programs import Mac

    answers = counting_compiled(monkeypatch)
    session = Session(E16, {(0, 0): {"x": 4, "w": 4, "y": 1}})
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        run_programs(session, {(0, 0): [Mac("y", 0, "x", 0, "w", 0, 2, x_stride=0)]})
    assert answers == [True]  # the ops are the loop's, but this one cannot be encoded


def test_the_loop_takes_its_events_in_turn_with_a_host_streaming_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``feed="host"`` the host writes each sample's inputs while the cores compute: a simpy
    process beside the loop's programs, whose events the two take in simpy's order."""
    from epiphany_sim import chip_from_name as chip_named
    from nnmap.mapping import plan_for
    from nnmap.run import simulate

    answers = counting_compiled(monkeypatch)
    net = random_network([9, 13, 4], seed=4)
    x = random_inputs(net, 3, seed=4)
    found = []
    for compiled in (True, False):
        monkeypatch.setattr(engine, "COMPILED", compiled)
        sim = simulate(plan_for("allgather", chip_named("2x3"), net, 3, feed="host"), x)
        chip = sim.session.chip
        agents = [*chip.cores, chip.host]
        found.append(
            (
                vars(sim.phases),
                sim.outputs.tobytes(),
                [
                    [(a.kind, float(a.start), float(a.end), a.label, str(a.segment)) for a in g.activities]
                    for g in agents
                ],
                [(link.bytes, link.busy_cycles, link.wait_cycles) for link in chip.fabric.links],
            )
        )
    assert answers == [True, True, False, False]  # the compute phase and the readback, each way
    feeding = [a for a in found[0][2][-1] if a[4] == "feed"]
    assert any(a[1] > found[0][0]["setup_end"] for a in feeding)  # the host writes during the compute phase
    assert found[0] == found[1]


@pytest.mark.parametrize("trainer", ["partitioned", "pipeline", "dni"])
def test_a_training_epoch_in_the_loop_gives_what_simpy_gives(trainer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-propagation's kernels are ``Step``s, which the loop runs (Python begins each and does
    its store, at their times); the host feeds the samples beside it. Weights, cycles, every span."""
    from epiphany_sim.config import E16
    from nnmap.training import Hyperparameters, get_trainer
    from nnmap.training.datasets import Dataset

    rng = np.random.default_rng(2)
    data = Dataset("random", rng.random((6, 5)).astype(np.float32), (rng.random((6, 3)) > 0.5).astype(np.float32))
    net = random_network([5, 7, 3], seed=2)
    answers = counting_compiled(monkeypatch)
    found = []
    for compiled in (True, False):
        monkeypatch.setattr(engine, "COMPILED", compiled)
        run = get_trainer(trainer)(E16, net, data, Hyperparameters(lr=0.3, epochs=2))
        meters = [run.start(), run.run_epoch(0), run.run_epoch(1)]
        chip = run.session.chip
        found.append(
            (
                [vars(m) for m in meters],
                [(layer.weights.tobytes(), layer.bias.tobytes()) for layer in run.network().layers],
                [
                    [(a.kind, float(a.start), float(a.end), a.label) for a in g.activities]
                    for g in [*chip.cores, chip.host]
                ],
            )
        )
    assert any(answers)  # some phase ran in the loop
    assert found[0] == found[1]


def test_wait_flags_polls_until_every_flag_reaches_its_count_as_on_simpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """(1, 1) waits until each of its 2 flags is at least 2, so for 4 writes first: (0, 0) writes
    flag 0 three times (1, 1, 2) and (3, 3) flag 1 once (1), so the check after the fourth
    finds flag 1 short; (3, 3) raises it to 2 only after a long fill, for which the core polls
    (a fifth write) before it reads the flags again and goes on."""
    layout = {(1, 1): {"flags": 2}, (0, 0): {"w": 1}, (3, 3): {"w": 1, "pad": 400}}

    def make() -> Session:
        return Session(E16, layout)

    flag = [Signal((1, 1), "flags", 0, value) for value in (1.0, 1.0, 2.0)]
    programs: dict[tuple, list[Op]] = {
        (1, 1): [WaitFlags("flags", 2, 2, "flags"), Signal((0, 0), "w", 0, 1.0)],
        (0, 0): [*flag, Wait("w", 1)],
        (3, 3): [Signal((1, 1), "flags", 1, 1.0), Fill("pad", 0, 400, 0.0), Signal((1, 1), "flags", 1, 2.0)],
    }
    compiled, simulated = both_ways(monkeypatch, make, programs)
    assert compiled == simulated
    checks = [a for a in compiled[1][0] if a.kind == "compute" and a.label == "flags"]
    assert len(checks) == 2  # the flags read twice: one short the first time
