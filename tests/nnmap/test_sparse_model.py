"""Sparse networks: masks in the ``.npz``, the patterns ``--sparsity`` draws, and the bad masks refused.

Every pattern is checked against its definition written out here (``nnmap.sparsity``'s
docstring): the number of connections, the blocks, the band.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnmap.cli import main
from nnmap.errors import ModelError
from nnmap.model import Layer, random_inputs, random_network
from nnmap.model_files import load_npz
from nnmap.sparsity import shuffle_hidden, sparse_mask, sparsify


def _fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``nnmap argv``; check exit status 2 and one line on stderr; return the message."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnmap: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    return err[len("nnmap: error: ") : -1]


def _model(tmp_path: Path, mask: np.ndarray, weights: np.ndarray | None = None) -> str:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 4)).astype(np.float32) if weights is None else weights
    path = tmp_path / "sparse.npz"
    np.savez(path, W0=w, b0=np.zeros(4, np.float32), M0=mask, activations=np.array(["sigmoid"]))
    return str(path)


def test_masks_survive_the_npz_round_trip(tmp_path: Path) -> None:
    net = sparsify(random_network([8, 12, 3], seed=2), 0.6, "random", seed=4)
    net.save(tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz") as data:
        assert sorted(data.files) == ["M0", "M1", "W0", "W1", "activations", "b0", "b1"]
        assert data["M0"].dtype == np.bool_
    back = load_npz(tmp_path / "net.npz")
    for a, b in zip(net.layers, back.layers, strict=True):
        assert a.mask is not None
        assert b.mask is not None
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(a.weights, b.weights)


def test_a_mask_of_zeros_and_ones_is_a_boolean_mask(tmp_path: Path) -> None:
    mask = np.zeros((6, 4), np.int64)
    mask[[0, 2, 5], [1, 1, 3]] = 1
    w = np.where(mask == 1, np.float32(0.5), np.float32(0))
    layer = load_npz(_model(tmp_path, mask, w)).layers[0]
    assert layer.mask is not None
    assert layer.mask.dtype == np.bool_
    assert layer.mask.sum() == 3


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones((4, 6), bool), "layer 0: mask shape (4, 6) does not match weights shape (6, 4)"),
        (np.full((6, 4), 0.5), "layer 0: mask has values other than true/false (or 1/0)"),
        (np.full((6, 4), 2), "layer 0: mask has values other than true/false (or 1/0)"),
        (np.eye(6, 4, dtype=bool), "layer 0: 20 nonzero weights outside the mask (the first at W[0, 1])"),
    ],
)
def test_a_bad_mask_is_one_line_and_status_2(mask, message, tmp_path, capsys) -> None:
    path = _model(tmp_path, mask)
    assert message in _fails_cleanly(["run", "--model", path], capsys)


def test_a_mask_without_its_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stray.npz"
    w = np.ones((3, 2), np.float32)
    np.savez(
        path, W0=w, b0=np.zeros(2, np.float32), M0=np.ones((3, 2), bool), M1=np.ones((2, 2), bool), activations=["relu"]
    )
    assert "mask M1 has no weight array W1" in _fails_cleanly(["plan", "--model", str(path)], capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sparsity", "1.0"], "argument --sparsity: expected a finite number in [0, 1), got '1.0'"),
        (["--sparsity", "-0.1"], "in [0, 1), got '-0.1'"),
        (["--sparsity", "nan"], "in [0, 1), got 'nan'"),
        (["--sparse-pattern", "block"], "--sparse-pattern chooses the connections --sparsity keeps"),
        (["--sparsity", "0.5", "--sparse-pattern", "stripes"], "argument --sparse-pattern: invalid choice: 'stripes'"),
    ],
)
def test_bad_sparsity_options(args, message, capsys) -> None:
    assert message in _fails_cleanly(["plan", "--layers", "8,8,4", *args], capsys)


def test_sparsity_is_for_random_networks_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    random_network([4, 3]).save(tmp_path / "dense.npz")
    message = _fails_cleanly(["plan", "--model", str(tmp_path / "dense.npz"), "--sparsity", "0.5"], capsys)
    assert message.startswith("--sparsity draws a random sparse network: use it with --layers")


def test_the_layer_refuses_weights_outside_its_mask() -> None:
    mask = np.zeros((2, 2), bool)
    with pytest.raises(ModelError, match=r"1 nonzero weights outside the mask \(the first at W\[1, 0\]\)"):
        Layer(np.array([[0, 0], [3, 0]], np.float32), np.zeros(2, np.float32), "relu", mask)


@pytest.mark.parametrize("sparsity", [0.5, 0.9, 0.99])
def test_random_keeps_the_exact_share_of_connections(sparsity: float) -> None:
    mask = sparse_mask(40, 25, sparsity, "random", np.random.default_rng(3))
    assert mask.sum() == round((1 - sparsity) * 40 * 25)


def test_block_is_block_diagonal_and_shares_the_hidden_groups() -> None:
    net = sparsify(random_network([12, 8, 4], seed=0), 0.75, "block")  # 1 / (1 - 0.75) = 4 blocks
    first, second = (layer.mask for layer in net.layers)
    assert first is not None
    assert second is not None
    # blocks by hand: inputs in groups of 3, hidden in groups of 2, outputs one each
    expected_first = np.zeros((12, 8), bool)
    expected_second = np.zeros((8, 4), bool)
    for b in range(4):
        expected_first[3 * b : 3 * b + 3, 2 * b : 2 * b + 2] = True
        expected_second[2 * b : 2 * b + 2, b] = True
    np.testing.assert_array_equal(first, expected_first)
    np.testing.assert_array_equal(second, expected_second)


def test_banded_keeps_the_diagonal_band() -> None:
    mask = sparse_mask(20, 10, 0.8, "banded", np.random.default_rng(0))
    for i in range(20):
        for j in range(10):
            assert mask[i, j] == (abs((i + 0.5) / 20 - (j + 0.5) / 10) <= 0.1)


def test_a_band_too_narrow_for_any_input_keeps_the_nearest() -> None:
    """Inputs sit at 0.025, 0.075, ..., outputs at 0.05, 0.15, ...: a band of half-width
    0.005 holds none, and each output's two nearest inputs are 0.025 away."""
    mask = sparse_mask(20, 10, 0.99, "banded", np.random.default_rng(0))
    for j in range(10):
        assert np.flatnonzero(mask[:, j]).tolist() == [2 * j, 2 * j + 1]


def test_weights_outside_the_mask_are_zero_and_the_pass_is_masked(numpy_forward) -> None:
    dense = random_network([10, 7, 3], seed=5)
    net = sparsify(dense, 0.7, "random", seed=1)
    x = random_inputs(net, 4, seed=2).astype(np.float64)
    h = x
    for d, s in zip(dense.layers, net.layers, strict=True):
        assert s.mask is not None
        np.testing.assert_array_equal(s.weights, np.where(s.mask, d.weights, 0))
        h = 1 / (1 + np.exp(-(h @ (d.weights.astype(np.float64) * s.mask) + d.bias)))
    np.testing.assert_allclose(net.forward(x), h, atol=1e-6)
    np.testing.assert_allclose(numpy_forward(net, x), h, atol=1e-12)


def test_shuffled_hidden_neurons_compute_the_same_function() -> None:
    net = sparsify(random_network([9, 16, 12, 5], seed=1), 0.75, "block")
    shuffled = shuffle_hidden(net, seed=3)
    x = random_inputs(net, 3, seed=1)
    np.testing.assert_allclose(shuffled.forward(x), net.forward(x), atol=1e-6)
    assert not np.array_equal(shuffled.layers[0].mask, net.layers[0].mask)
    assert shuffled.layers[-1].mask is not None
    assert sorted(shuffled.layers[-1].mask.sum(axis=0)) == sorted(net.layers[-1].mask.sum(axis=0))


def test_the_same_seed_draws_the_same_network() -> None:
    a = sparsify(random_network([8, 8]), 0.5, "random", seed=7)
    b = sparsify(random_network([8, 8]), 0.5, "random", seed=7)
    c = sparsify(random_network([8, 8]), 0.5, "random", seed=8)
    assert np.array_equal(a.layers[0].mask, b.layers[0].mask)
    assert not np.array_equal(a.layers[0].mask, c.layers[0].mask)
