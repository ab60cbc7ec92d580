"""Per-neuron workers: numpy's weights, one message in and one out per activation, and slower."""

from __future__ import annotations

import numpy as np
import pytest

from epiphany_sim.config import E16, chip_from_name
from nnmap.model import random_network
from nnmap.training import Hyperparameters, get_trainer, load_dataset, network_for, train
from nnmap.training.datasets import Dataset

F32_BYTES = 4


@pytest.mark.parametrize(("chip", "momentum"), [("e16", 0.0), ("2x3", 0.9)])
def test_weights_equal_numpy_sgd_and_every_activation_is_two_messages(chip: str, momentum: float, numpy_sgd) -> None:
    sizes = [3, 8, 2]  # 8 hidden neurons: on 2x3 some cores hold two
    net = random_network(sizes, seed=11)
    rng = np.random.default_rng(12)
    data = Dataset("random", rng.random((7, 3), dtype=np.float32), (rng.random((7, 2)) > 0.5).astype(np.float32))
    run = get_trainer("per-neuron")(
        chip_from_name(chip), net, data, Hyperparameters(lr=0.5, momentum=momentum, epochs=3)
    )
    result = train(run)
    expected = numpy_sgd(net, data.x, data.y, 0.5, 3, momentum)
    got = [a for layer in run.network().layers for a in (layer.weights, layer.bias)]
    assert max(float(np.max(np.abs(g - e))) for g, e in zip(got, expected, strict=True)) < 1e-5
    activations = 3 * 7 * (8 + 2)
    assert run.messages == 2 * activations
    # in: inputs, weights and bias of the neuron; out: its activation; nothing else crosses the eLink
    per_sample = sum(n_out * (2 * n_in + 1) + n_out for n_in, n_out in zip(sizes, sizes[1:], strict=False))
    assert result.records[-1].bytes_off_chip == 3 * 7 * per_sample * F32_BYTES


@pytest.mark.slow
def test_per_neuron_is_slower_than_one_core_on_the_or_gate() -> None:
    """Handing out every activation costs more than computing it in place."""
    data = load_dataset("or")
    net = network_for(data, [])
    hp = Hyperparameters(lr=0.3, momentum=0.9, epochs=2000, target_loss=0.001)
    single = train(get_trainer("single")(E16, net, data, hp))
    workers = train(get_trainer("per-neuron")(E16, net, data, hp))
    assert single.reached_target
    assert workers.reached_target
    assert workers.records[-1].epoch == single.records[-1].epoch  # same SGD, same epochs
    slowdown = workers.records[-1].cycles / single.records[-1].cycles
    assert slowdown > 1.2
