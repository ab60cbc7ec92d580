"""Back-propagation on the layer pipeline's groups: each layer's weights live and change on its own cores."""

from __future__ import annotations

import numpy as np
import pytest

from epiphany_sim.config import E16, E64
from nnmap.buffers import weights
from nnmap.model import random_network
from nnmap.training import Hyperparameters, get_trainer, train
from nnmap.training.datasets import Dataset


@pytest.mark.parametrize(("chip", "sizes"), [(E16, [6, 9, 4]), (E64, [10, 30, 20, 5])], ids=["e16", "e64"])
def test_one_step_equals_numpy_and_each_layer_stays_on_its_group(chip, sizes, numpy_sgd) -> None:
    rng = np.random.default_rng(8)
    data = Dataset("random", rng.random((1, sizes[0])).astype(np.float32), np.ones((1, sizes[-1]), np.float32))
    net = random_network(sizes, seed=9)
    trainer = get_trainer("pipeline")(chip, net, data, Hyperparameters(lr=1.0, epochs=1))
    train(trainer)
    want = numpy_sgd(net, data.x, data.y, 1.0, 1)
    for layer, w, b in zip(trainer.network().layers, want[::2], want[1::2], strict=True):
        np.testing.assert_allclose(layer.weights, w, atol=1e-5)
        np.testing.assert_allclose(layer.bias, b, atol=1e-5)
    chain = trainer.program.chain
    holders = [
        [k for k, coord in enumerate(chain) if weights(li) in trainer.session.chip.core(coord).sram]
        for li in range(len(sizes) - 1)
    ]
    assert [k for group in holders for k in group] == list(range(len(chain)))  # consecutive groups, one per layer
