"""Partitioned back-propagation on the simulated mesh against the tests' numpy SGD (``conftest.py``).

The reference shares nothing with ``nnmap.training``; it runs in float64 for one step
and in float32 for long runs (the precision the cores compute in).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from epiphany_sim.config import E16, E64, ChipConfig
from nnmap.model import Layer, Network, random_network
from nnmap.training import Hyperparameters, get_trainer, train
from nnmap.training.datasets import Dataset
from nnmap.training.partitioned import PartitionedBackprop


def _data(sizes: list[int], n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.random((n, sizes[0])).astype(np.float32)
    t = (rng.random((n, sizes[-1])) > 0.5).astype(np.float32)
    return Dataset("random", x, t)


def _simulated(
    chip: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters, trainer: str | type = "partitioned"
) -> Network:
    run = (get_trainer(trainer) if isinstance(trainer, str) else trainer)(chip, net, data, hp)
    cycles = [r.cycles for r in train(run).records]
    assert all(math.isfinite(c) for c in cycles)
    assert all(a < b for a, b in zip(cycles, cycles[1:], strict=False)), f"simulated time went {cycles}"
    return run.network()


def _core_ranges(n_in: int, n_out: int, cores: int) -> list[tuple[int, int]]:
    """The partitioned split, from its formula: core c takes products [c P / C, (c + 1) P / C)."""
    total = n_in * n_out
    return [(c * total // cores, (c + 1) * total // cores) for c in range(cores)]


def _cases(sizes: list[int], cores: int) -> set[str]:
    """Which of the scheme's partial-sum cases some core meets in some layer."""
    found = set()
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        for a, b in _core_ranges(n_in, n_out, cores):
            if b <= a:
                continue
            starts_inside, ends_inside = a % n_in != 0, b % n_in != 0
            if a // n_in == (b - 1) // n_in and starts_inside and ends_inside:
                found.add("strictly inside one output")
            elif starts_inside and ends_inside:
                found.add("finishes one output and starts another")
    return found


def _plan_cases(chip: ChipConfig, sizes: list[int]) -> set[str]:
    """The same cases read off the partitioned trainer's own plan, whose pieces must be the formula's ranges."""
    run = PartitionedBackprop(chip, random_network(sizes), _data(sizes, 1, seed=0), Hyperparameters())
    found = set()
    for assign, (n_in, n_out) in zip(run.program.plan.layers, zip(sizes, sizes[1:], strict=False), strict=True):
        for pieces, (a, b) in zip(assign.pieces, _core_ranges(n_in, n_out, chip.n_cores), strict=True):
            assert [p.j * n_in + i for p in pieces for i in p.inputs] == list(range(a, b))
            if not pieces:
                continue
            starts_inside = pieces[0].start > 0  # it finishes an output an earlier core began
            ends_inside = pieces[-1].start + pieces[-1].count < n_in  # it begins one a later core finishes
            if len(pieces) == 1 and starts_inside and ends_inside:
                found.add("strictly inside one output")
            elif starts_inside and ends_inside:
                found.add("finishes one output and starts another")
    return found


SHAPES = [
    (E16, [2, 1], "sigmoid", "mse"),
    (E16, [3, 40], "sigmoid", "mse"),
    (E16, [6, 16, 4], "sigmoid", "mse"),
    (E16, [5, 7, 3, 2], "tanh", "cross-entropy"),
    (E16, [64, 16, 10], "sigmoid", "mse"),  # digits-sized: more relays than DMA channels
    (E64, [6, 16, 4], "sigmoid", "mse"),
    (E64, [3, 40], "sigmoid", "cross-entropy"),
    (E64, [10, 9, 3], "tanh", "mse"),
]


@pytest.mark.parametrize("chip", [E16, E64], ids=["e16", "e64"])
def test_shapes_cover_the_seeds_partial_sum_cases(chip: ChipConfig) -> None:
    shapes = [sizes for c, sizes, _, _ in SHAPES if c is chip]
    cases = {"strictly inside one output", "finishes one output and starts another"}
    assert set().union(*(_cases(sizes, chip.n_cores) for sizes in shapes)) == cases
    assert set().union(*(_plan_cases(chip, sizes) for sizes in shapes)) == cases


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chip", "sizes", "hidden", "loss"),
    SHAPES,
    ids=[f"{c.name}-{'x'.join(map(str, s))}-{h}-{lo}" for c, s, h, lo in SHAPES],
)
def test_one_step_gradients_equal_numpy(chip: ChipConfig, sizes: list[int], hidden: str, loss: str, numpy_sgd) -> None:
    data = _data(sizes, 1, seed=len(sizes) + sizes[0])
    net = random_network(sizes, hidden, "sigmoid", seed=sizes[1])
    got = _simulated(chip, net, data, Hyperparameters(lr=1.0, epochs=1, loss=loss))
    want = numpy_sgd(net, data.x, data.y, 1.0, 1, loss=loss)
    for k, (before, after, w, b) in enumerate(zip(net.layers, got.layers, want[::2], want[1::2], strict=True)):
        # with lr = 1 the step is the gradient itself
        np.testing.assert_allclose(
            before.weights - after.weights, before.weights - w, atol=1e-5, err_msg=f"weight gradient of layer {k}"
        )
        np.testing.assert_allclose(
            before.bias - after.bias, before.bias - b, atol=1e-5, err_msg=f"bias gradient of layer {k}"
        )
        assert np.any(np.abs(before.weights - w) > 1e-4), "the step is too small to test anything"


class _FromDram(PartitionedBackprop):
    """The partitioned trainer with every core reading its samples from DRAM itself."""

    feed = "dram"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trainer", "momentum"),
    [("partitioned", 0.0), ("partitioned", 0.6), ("single", 0.0), (_FromDram, 0.0), ("pipeline", 0.6)],
    ids=["partitioned", "partitioned-momentum", "single", "partitioned-dram-feed", "pipeline-momentum"],
)
def test_twenty_epochs_of_sgd_equal_numpy(trainer: str | type, momentum: float, numpy_sgd) -> None:
    sizes = [4, 6, 3]
    data = _data(sizes, 6, seed=7)
    net = random_network(sizes, "sigmoid", "sigmoid", seed=3)
    got = _simulated(E16, net, data, Hyperparameters(lr=0.5, momentum=momentum, epochs=20), trainer)
    want = numpy_sgd(net, data.x, data.y, 0.5, 20, momentum, dtype=np.float32)
    for k, (layer, w, b) in enumerate(zip(got.layers, want[::2], want[1::2], strict=True)):
        np.testing.assert_allclose(layer.weights, w, atol=1e-4, err_msg=f"weights of layer {k}")
        np.testing.assert_allclose(layer.bias, b, atol=1e-4, err_msg=f"biases of layer {k}")
    moved = max(np.abs(layer.weights - w0.weights).max() for layer, w0 in zip(got.layers, net.layers, strict=True))
    assert moved > 0.01, "twenty epochs barely moved the weights"


def test_weights_stay_in_the_cores_and_only_data_comes_from_off_chip() -> None:
    """The host writes the weights once; per sample only inputs and targets cross the eLink."""
    sizes = [6, 40, 4]
    data = _data(sizes, 2, seed=1)
    net = random_network(sizes, seed=2)
    result = train(get_trainer("partitioned")(E16, net, data, Hyperparameters(lr=0.1, epochs=1)))
    loaded, trained = result.records
    weight_bytes = 4 * (net.n_weights + sum(layer.n_out for layer in net.layers))
    assert loaded.bytes_off_chip >= weight_bytes  # step 0: the host wrote every weight once
    # at most: every core reads all inputs, the owners all targets, in 8-byte transactions
    data_bound = E16.n_cores * 8 * -(-sizes[0] // 2) + 8 * sizes[-1]
    assert data_bound < weight_bytes
    per_sample = (trained.bytes_off_chip - loaded.bytes_off_chip) / data.n_samples
    assert 0 < per_sample <= data_bound
    assert trained.bytes_on_chip > loaded.bytes_on_chip  # partial sums, errors and hidden values


def test_an_unnamed_subclass_does_not_replace_a_registered_trainer() -> None:
    assert get_trainer("partitioned") is PartitionedBackprop


def test_untrainable_output_activation_is_a_clear_error() -> None:
    from nnmap.errors import TrainingError

    data = _data([3, 2], 2, seed=0)
    layer = random_network([3, 2]).layers[0]
    net = Network((Layer(layer.weights, layer.bias, "softmax"),))
    with pytest.raises(TrainingError, match="softmax"):
        get_trainer("partitioned")(E16, net, data, Hyperparameters())
