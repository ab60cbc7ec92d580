"""Shared fixtures of the mapper's tests: an independent numpy reference and plan arithmetic.

The reference here is written apart from ``nnmap.model`` (float64, activations from their
formulas), so a test that compares against it does not trust the code under test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nnmap.model import Network

TOLERANCE = 1e-5  # the issue's: absolute below 1, relative above


def _activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "identity":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise AssertionError(f"the test reference knows no activation {name!r}")


def _forward(net: Network, x: np.ndarray) -> np.ndarray:
    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    for layer in net.layers:
        h = _activation(layer.activation, h @ layer.weights.astype(np.float64) + layer.bias.astype(np.float64))
    return h


def _assert_matches(outputs: np.ndarray, reference: np.ndarray) -> None:
    outputs = np.asarray(outputs, dtype=np.float64)
    assert outputs.shape == reference.shape
    assert np.all(np.isfinite(outputs)), f"non-finite outputs: {outputs}"
    err = np.abs(outputs - reference)
    limit = TOLERANCE * np.maximum(1.0, np.abs(reference))
    worst = np.unravel_index(np.argmax(err / limit), err.shape)
    assert np.all(err <= limit), f"output {worst} is {outputs[worst]}, numpy says {reference[worst]}"


@pytest.fixture(scope="session")
def numpy_forward() -> Callable[[Network, np.ndarray], np.ndarray]:
    """``forward(net, x)``: the network's outputs in float64, computed by plain numpy."""
    return _forward


@pytest.fixture(scope="session")
def assert_matches() -> Callable[[np.ndarray, np.ndarray], None]:
    """``check(outputs, reference)``: every output finite and within the issue's tolerance."""
    return _assert_matches


@pytest.fixture(scope="session")
def product_range() -> Callable[[int, int, int], range]:
    """``products(c, P, C)``: seed 003's share of chain core ``c``, ``[floor(cP/C), floor((c+1)P/C))``."""
    return lambda c, total, n_cores: range(c * total // n_cores, (c + 1) * total // n_cores)


@pytest.fixture(scope="session")
def snake() -> Callable[[int, int], list[tuple[int, int]]]:
    """``chain(rows, cols)``: the cores in a snake over the rows, drawn by hand."""

    def chain(rows: int, cols: int) -> list[tuple[int, int]]:
        out = []
        for r in range(rows):
            cols_in_order = list(range(cols)) if r % 2 == 0 else list(range(cols))[::-1]
            out += [(r, c) for c in cols_in_order]
        return out

    return chain
