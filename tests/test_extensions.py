"""Each kind of extension ``docs/architecture.md`` names, made here in a few lines and used end to end.

Every extension registers itself the way a new module of the project would; the
``registries`` fixture puts every registry back afterwards, so no other test sees it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
import simpy

from epiphany_sim import Chip, chip_from_name
from epiphany_sim.cli import main as sim_main
from epiphany_sim.config import E16, PRESETS
from epiphany_sim.core import Core
from epiphany_sim.mesh import HOST
from epiphany_sim.traffic import TRAFFIC_PATTERNS, Pattern, TrafficSpec, run_traffic
from nnmap.analysis import utilisation_grid
from nnmap.cli import main
from nnmap.lowering.delivery import DELIVERIES, Delivery
from nnmap.model import random_inputs, random_network
from nnmap.plan import LayerAssignment
from nnmap.plots import RUN_FIGURES, RunFigure
from nnmap.plots._draw import png
from nnmap.programs import Kernel, Op, Send
from nnmap.run import RunResult, run
from nnmap.session import Session
from nnmap.strategies import STRATEGIES, Strategy
from nnmap.strategies.node_per_core import whole_outputs
from nnmap.training import TRAINERS, Hyperparameters, load_dataset, network_for, train
from nnmap.training.single import Single


@pytest.fixture
def registries() -> Iterator[None]:
    saved = [(d, dict(d)) for d in (STRATEGIES, DELIVERIES, PRESETS, TRAFFIC_PATTERNS, TRAINERS)]
    figures = list(RUN_FIGURES)
    yield
    for registry, content in saved:
        registry.clear()
        registry.update(content)
    RUN_FIGURES[:] = figures


def _quiet(argv: list[str], entry: Callable[[list[str]], int] = main) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return entry(argv)


def test_a_new_strategy_is_a_registered_subclass(registries: None) -> None:
    @STRATEGIES.add
    class Reversed(Strategy):
        """Node per core, dealt from the far end of the chain."""

        name = "reversed"

        def assign(self, n_in: int, n_out: int, n_cores: int) -> LayerAssignment:
            return whole_outputs(n_in, [n_cores - 1 - j % n_cores for j in range(n_out)], n_cores)

    net = random_network([5, 20, 3], seed=1)
    x = random_inputs(net, 2, seed=1)
    result = run(E16, net, "reversed", x, baseline=False)
    hidden = 1 / (1 + np.exp(-(x.astype(np.float64) @ net.layers[0].weights + net.layers[0].bias)))
    want = 1 / (1 + np.exp(-(hidden @ net.layers[1].weights + net.layers[1].bias)))
    np.testing.assert_allclose(result.outputs, want, atol=1e-5)
    assert result.plan.layers[0].owner[17] == 15 - 17 % 16
    assert _quiet(["run", "--strategy", "reversed", "--layers", "5,20,3"]) == 0


def test_a_new_delivery_is_a_registered_subclass(registries: None) -> None:
    @DELIVERIES.add
    class Eager(Delivery):
        """Each hidden value goes straight to every other core as soon as it is known."""

        name = "eager"

        def on_value(self, k: int, layer: int, sample: int, j: int) -> list[Op]:
            return [self._send(k, q, layer, sample, j, 1, "eager") for q in range(len(self.chain)) if q != k]

    result = run(E16, random_network([6, 16, 4]), "partitioned", broadcast="eager", baseline=False)
    assert result.metrics["validated"]
    assert result.plan.relays == {}  # nothing to relay: every core is written directly
    assert _quiet(["run", "--broadcast", "eager"]) == 0


def test_a_new_chip_preset_is_an_entry_in_presets(registries: None) -> None:
    PRESETS["e4"] = E16.replace(name="e4", rows=2, cols=2, clock_hz=400e6)
    assert chip_from_name("e4").n_cores == 4
    result = run(chip_from_name("e4"), random_network([4, 6, 2]), baseline=False)
    assert result.metrics["validated"]
    assert result.metrics["time_us"] == pytest.approx(result.metrics["total_cycles"] / 400)  # 400 cycles per us
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", "--help"]) == 0
    assert "e4 (2x2)" in " ".join(out.getvalue().split())  # the help lists every preset


def test_a_new_traffic_pattern_is_a_registered_subclass(registries: None) -> None:
    @TRAFFIC_PATTERNS.add
    class Shift(Pattern):
        """Core i writes to core i + 1, the last to the first."""

        name = "shift"

        def destinations(self, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            return (sources + 1) % self.n_cores

    pair = run_traffic(Chip(chip_from_name("1x2")), TrafficSpec("shift", rate=0.05, cycles=400, seed=1))
    assert pair.avg_hops == 1.0  # each of the two cores writes to its neighbour
    square = run_traffic(Chip(chip_from_name("2x2")), TrafficSpec("shift", rate=0.05, cycles=400, seed=1))
    assert 1.0 < square.avg_hops < 2.0  # (0,1) -> (1,0) and (1,1) -> (0,0) take two hops, the others one
    assert _quiet(["traffic", "--chip", "2x2", "--pattern", "shift", "--cycles", "200"], sim_main) == 0


@pytest.mark.slow
def test_a_new_run_figure_is_a_row_of_run_figures(registries: None, tmp_path: Path) -> None:
    def busiest(result: RunResult) -> bytes:
        fig, ax = plt.subplots()
        ax.bar(range(16), utilisation_grid(result).ravel())
        return png(fig)

    RUN_FIGURES.append(RunFigure("busiest.png", "Utilisation by core index", busiest))
    page = tmp_path / "run.html"
    assert _quiet(["run", "--plots", str(tmp_path / "figs"), "--report", str(page)]) == 0
    assert (tmp_path / "figs" / "busiest.png").read_bytes().startswith(b"\x89PNG")
    assert "Utilisation by core index" in page.read_text(encoding="utf-8")


def test_a_new_instruction_is_a_kernel_subclass() -> None:
    @dataclass(frozen=True)
    class Scale(Kernel):
        """``buffer[:n] *= factor``, a cycle per element (assumed)."""

        buffer: str
        n: int
        factor: float

        def run(self, core: Core) -> Generator[simpy.Event, Any, None]:
            values = core.sram[self.buffer].data[: self.n] * np.float32(self.factor)
            yield from core.compute(self.n, "scale")
            core.sram[self.buffer].store(0, values)

    session = Session(E16, {(0, 0): {"v": 4}}, {"out": 4})
    session.chip.core((0, 0)).sram["v"].store(0, np.arange(4, dtype=np.float32))
    session.start({(0, 0): [Scale("v", 4, 2.0), Scale("v", 2, 0.5), Send(HOST, "out", 0, "v", 0, 4)]})
    session.run()
    np.testing.assert_array_equal(session.chip.dram["out"].data, [0, 1, 4, 6])  # [0, 2, 4, 6], then [0, 1]
    computed = [a for a in session.chip.core((0, 0)).activities if a.label == "scale"]
    assert [a.end - a.start for a in computed] == [4, 2]


def test_a_new_trainer_is_a_registered_subclass(registries: None) -> None:
    @TRAINERS.add
    class SingleFromDram(Single):
        """Plain SGD on one core, which reads each sample from DRAM itself."""

        name = "single-dram"
        feed = "dram"

    data = load_dataset("or")
    net = network_for(data, [], seed=2)
    result = train(SingleFromDram(E16, net, data, Hyperparameters(lr=0.5, epochs=3)))
    w, b = net.layers[0].weights.copy(), net.layers[0].bias.copy()
    for _ in range(3):  # plain SGD on 1/2 (y - t)^2 of a sigmoid neuron, sample by sample
        for x, t in zip(data.x, data.y, strict=True):
            y = 1 / (1 + np.exp(-(x @ w + b)))
            delta = (y - t) * y * (1 - y)
            w, b = w - 0.5 * np.outer(x, delta), b - 0.5 * delta
    got = result.records[-1]
    assert got.epoch == 3
    y = 1 / (1 + np.exp(-(data.x @ w + b)))
    assert got.loss == pytest.approx(float(np.mean((y - data.y) ** 2)), rel=1e-5)
    assert _quiet(["train", "--strategy", "single-dram", "--epochs", "2"]) == 0
