"""Decoupled layers with synthetic gradients on the simulated mesh, against a numpy step written here.

The reference follows the paper's update (Jaderberg et al., arXiv:1608.05343) with the
schedule the trainer documents, sample by sample and in float64: every layer's weights
take their step from the gradient at their output as soon as it is known (the synthetic one
for a hidden layer, ``h A + c`` times the activation's derivative), and each model learns
from the true error of a sample one step later. It shares nothing with ``nnmap.training``.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pytest

import nnmap.training.dni
from epiphany_sim.config import E16, load_chip
from nnmap.cli import main
from nnmap.model import Layer, Network, random_network
from nnmap.segments import Forward
from nnmap.training import Hyperparameters, get_trainer, load_dataset, network_for, train
from nnmap.training.datasets import Dataset

TOLERANCE = 1e-5


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _numpy_dni(
    net: Network,
    models: list[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    t: np.ndarray,
    lr: float,
    sg_lr: float,
    epochs: int,
    momentum: float = 0.0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sigmoid layers and mean squared error. Returns ``[W0, b0, W1, ...]`` and ``[A0, c0, A1, ...]`` after
    ``epochs`` passes over the samples in order."""
    ws = [layer.weights.astype(np.float64) for layer in net.layers]
    bs = [layer.bias.astype(np.float64) for layer in net.layers]
    vw = [np.zeros_like(w) for w in ws]
    vb = [np.zeros_like(b) for b in bs]
    a_s = [a.astype(np.float64) for a, _ in models]
    c_s = [c.astype(np.float64) for _, c in models]
    n_layers = len(ws)
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * (n_layers - 1)
    for _ in range(epochs):
        for xi, ti in zip(x.astype(np.float64), t.astype(np.float64), strict=True):
            hs = [xi]
            for w, b in zip(ws, bs, strict=True):
                hs.append(_sigmoid(hs[-1] @ w + b))
            true_errors = {}
            predictions = {}
            for li in range(n_layers):
                y = hs[li + 1]
                if li == n_layers - 1:
                    delta = (y - ti) * y * (1 - y)
                else:
                    predictions[li] = y @ a_s[li] + c_s[li]
                    delta = predictions[li] * y * (1 - y)
                if li > 0:
                    true_errors[li - 1] = ws[li] @ delta  # the weights before this step's update
                vw[li] = momentum * vw[li] - lr * np.outer(hs[li], delta)
                vb[li] = momentum * vb[li] - lr * delta
                ws[li] = ws[li] + vw[li]
                bs[li] = bs[li] + vb[li]
            for li in range(n_layers - 1):  # each model learns from the sample before
                if pending[li] is not None:
                    h_before, predicted, error = pending[li]
                    a_s[li] -= sg_lr * np.outer(h_before, predicted - error)
                    c_s[li] -= sg_lr * (predicted - error)
                pending[li] = (hs[li + 1], predictions[li], true_errors[li])
    params = [p for pair in zip(ws, bs, strict=True) for p in pair]
    return params, [p for pair in zip(a_s, c_s, strict=True) for p in pair]


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE))


def _random_models(net: Network, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.uniform(-0.5, 0.5, (layer.n_out, layer.n_out)), rng.uniform(-0.5, 0.5, layer.n_out))
        for layer in net.layers[:-1]
    ]


@pytest.fixture
def started_models(monkeypatch: pytest.MonkeyPatch):
    """The trainer's models start from given weights instead of zero, so that the first step's
    synthetic gradients are not zero."""

    def use(models: list[tuple[np.ndarray, np.ndarray]]) -> None:
        by_size = {a.shape[0]: (a, c) for a, c in models}

        def model_for(layer: Layer) -> Layer:
            a, c = by_size[layer.n_out]
            return Layer(a.astype(np.float32), c.astype(np.float32), "identity")

        monkeypatch.setattr(nnmap.training.dni, "model_for", model_for)

    return use


def _data(sizes: list[int], n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(
        "random", rng.random((n, sizes[0])).astype(np.float32), (rng.random((n, sizes[-1])) > 0.5).astype(np.float32)
    )


def _trained(chip, net, data, hp):
    trainer = get_trainer("dni")(chip, net, data, hp)
    records = train(trainer).records
    assert all(a.cycles < b.cycles for a, b in zip(records, records[1:], strict=False))
    trained = trainer.network()
    return (
        [p for layer in trained.layers for p in (layer.weights, layer.bias)],
        [p for model in trainer.models() for p in (model.weights, model.bias)],
    )


@pytest.mark.slow
@pytest.mark.parametrize("n_samples", [1, 2, 3])
@pytest.mark.parametrize(
    ("chip", "sizes"),
    [(E16, [6, 5, 3]), (E16, [7, 9, 6, 4]), (load_chip("1x2"), [4, 3, 2])],
    ids=["e16", "e16-2hidden", "1x2"],
)
def test_each_step_equals_the_numpy_step(chip, sizes, n_samples, started_models) -> None:
    """One step, then the step whose model learns from the first sample, then one more."""
    net = random_network(sizes, seed=1)
    models = _random_models(net, seed=2)
    started_models(models)
    data = _data(sizes, n_samples, seed=3)
    hp = Hyperparameters(lr=0.5, epochs=1, sg_lr=0.2)
    params, learnt = _trained(chip, net, data, hp)
    want_params, want_models = _numpy_dni(net, models, data.x, data.y, 0.5, 0.2, 1)
    for got, want in zip(params + learnt, want_params + want_models, strict=True):
        assert _close(got, want), np.max(np.abs(got - want))


def test_models_start_at_zero_and_then_learn() -> None:
    """From the paper's zero models, the first step moves only the output layer; after the true
    errors arrive the models are no longer zero; two epochs equal numpy, with momentum."""
    sizes = [6, 5, 4, 3]
    net = random_network(sizes, seed=4)
    data = _data(sizes, 5, seed=5)
    hp = Hyperparameters(lr=0.4, momentum=0.5, epochs=2, sg_lr=0.3)
    zero = [(np.zeros((n, n)), np.zeros(n)) for n in sizes[1:-1]]
    params, learnt = _trained(E16, net, data, hp)
    want_params, want_models = _numpy_dni(net, zero, data.x, data.y, 0.4, 0.3, 2, momentum=0.5)
    for got, want in zip(params + learnt, want_params + want_models, strict=True):
        assert _close(got, want), np.max(np.abs(got - want))
    assert all(np.any(m != 0) for m in learnt)
    one = Hyperparameters(lr=0.4, epochs=1, sg_lr=0.3)
    first, _ = _trained(E16, net, _data(sizes, 1, seed=5), one)
    for li in range(2):  # the hidden layers' synthetic gradients were zero
        assert _close(first[2 * li], net.layers[li].weights)
    assert np.any(first[4] != net.layers[2].weights)


def _phase_span(trainer, layer: int, step: int) -> tuple[float, float]:
    acts = [a for core in trainer.session.chip.cores for a in core.activities if a.segment == Forward(layer, step)]
    return min(a.start for a in acts), max(a.end for a in acts)


@pytest.mark.slow
def test_groups_work_on_different_samples_at_once() -> None:
    """Group 1 works on sample s - 1 while group 0 works on sample s, and no step of group 0 waits
    for group 1's whole step: its epoch is shorter than the update-locked pipeline's."""
    sizes = [16, 24, 8]
    net = random_network(sizes, seed=6)
    data = _data(sizes, 12, seed=7)
    hp = Hyperparameters(lr=0.3, epochs=1)
    chip = E16.replace(host_sram_write_cycles_per_transaction=9.0)  # a host as fast as the eLink: not the bottleneck
    dni = get_trainer("dni")(chip, net, data, hp)
    records = train(dni).records
    dni_time = records[-1].cycles - records[0].cycles
    for s in range(2, 11):
        start0, end0 = _phase_span(dni, 0, s)
        start1, end1 = _phase_span(dni, 1, s - 1)
        assert max(start0, start1) < min(end0, end1)
    locked = get_trainer("pipeline")(chip, net, data, hp)
    records = train(locked).records
    assert dni_time < records[-1].cycles - records[0].cycles


@pytest.mark.slow
def test_digits_to_85_percent() -> None:
    """All 1797 digits, a 64-24-10 network, on a 2-core mesh: a group per layer."""
    data = load_dataset("digits")
    net = network_for(data, [24])
    hp = Hyperparameters(lr=0.2, momentum=0.8, epochs=3, sg_lr=0.08, target_accuracy=0.85)
    result = train(get_trainer("dni")(load_chip("1x2"), net, data, hp))
    assert result.reached_target
    assert result.records[-1].accuracy >= 0.85
    assert math.isfinite(result.records[-1].loss)


def _quiet(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "or"], "dni needs a hidden layer"),
        (["--chip", "1x1", "--dataset", "xor"], "dni needs a core per layer"),
        (["--dataset", "xor", "--sg-lr", "0"], "sg_lr must be a finite number > 0"),
    ],
)
def test_bad_setups_are_one_line_and_status_2(argv, message, tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    code, out, err = _quiet(["train", "--strategy", "dni", *argv, "--json", str(path)])
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert message in err
    assert not path.exists()


@pytest.mark.slow
def test_sg_lr_is_for_dni_only() -> None:
    code, _, err = _quiet(["train", "--strategy", "partitioned", "--dataset", "xor", "--sg-lr", "0.2"])
    assert code == 2
    assert "--sg-lr is for dni only" in err
