"""Shared fixtures of the mapper's tests: independent numpy references and plan arithmetic.

The references here are written apart from ``nnmap.model``, ``nnmap.recurrent`` and ``nnmap.training``
(activations, derivatives and updates from their formulas), so a test that compares
against them does not trust the code under test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nnmap.model import Network
from nnmap.recurrent.model import RecurrentStack

TOLERANCE = 1e-5  # absolute below 1, relative above, as nnmap.run checks


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


def _derivative(name: str, y: np.ndarray) -> np.ndarray:
    """``f'(z)`` from the output ``y = f(z)``."""
    if name == "sigmoid":
        return y * (1 - y)
    if name == "tanh":
        return 1 - y * y
    raise AssertionError(f"the test reference cannot train through {name!r}")


def _sgd(
    net: Network,
    x: np.ndarray,
    t: np.ndarray,
    lr: float,
    epochs: int,
    momentum: float = 0.0,
    loss: str = "mse",
    batch: int = 1,
    dtype: type = np.float64,
) -> list[np.ndarray]:
    """``epochs`` passes of SGD over the samples in their order; the parameters ``[W0, b0, W1, b1, ...]``.

    Each step averages the gradients of ``batch`` consecutive samples (the last batch of a
    pass may be short) of ``1/2 sum (y - t)^2`` (``mse``) or of the cross-entropy of sigmoid
    outputs (``cross-entropy``, whose output error is ``y - t``), all at the same
    parameters, then does ``v = momentum v - lr g; p += v`` (plain SGD with momentum 0).
    Everything is computed in ``dtype``.
    """
    acts = [layer.activation for layer in net.layers]
    params = [a.astype(dtype) for layer in net.layers for a in (layer.weights, layer.bias)]
    velocity = [np.zeros_like(p) for p in params]
    lr_, mu = dtype(lr), dtype(momentum)
    x, t = x.astype(dtype), t.astype(dtype)

    def gradients(xi: np.ndarray, ti: np.ndarray) -> list[np.ndarray]:
        hs = [xi]
        for w, b, name in zip(params[::2], params[1::2], acts, strict=True):
            hs.append(_activation(name, hs[-1] @ w + b).astype(dtype))
        delta = hs[-1] - ti if loss == "cross-entropy" else (hs[-1] - ti) * _derivative(acts[-1], hs[-1])
        grads: list[np.ndarray] = [np.empty(0)] * len(params)
        for li in range(len(acts) - 1, -1, -1):
            grads[2 * li], grads[2 * li + 1] = np.outer(hs[li], delta), delta
            if li > 0:
                delta = (params[2 * li] @ delta) * _derivative(acts[li - 1], hs[li])
        return grads

    for _ in range(epochs):
        for start in range(0, len(x), batch):
            per_sample = [
                gradients(xi, ti) for xi, ti in zip(x[start : start + batch], t[start : start + batch], strict=True)
            ]
            for i in range(len(params)):
                g = sum(grads[i] for grads in per_sample) / dtype(len(per_sample))
                velocity[i] = mu * velocity[i] - lr_ * g
                params[i] = params[i] + velocity[i]
    return params


def _forward(net: Network, x: np.ndarray) -> np.ndarray:
    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    for layer in net.layers:
        h = _activation(layer.activation, h @ layer.weights.astype(np.float64) + layer.bias.astype(np.float64))
    return h


def _rnn_states(stack: RecurrentStack, x: np.ndarray) -> np.ndarray:
    """Every state ``(L, T, H)`` of an Elman stack over ``x`` in float64, from the cell's formula
    ``h[i, t] = tanh(h[i - 1, t] @ W_i + h[i, t - 1] @ U_i + b_i)``, ``h[-1, t] = x[t]``, ``h[i, -1] = 0``."""
    below = np.asarray(x, dtype=np.float64)
    out = []
    for layer in stack.layers:
        w, u, b = (np.asarray(a, dtype=np.float64) for a in (layer.w, layer.u, layer.b))
        h = np.zeros(len(b))
        states = []
        for x_t in below:
            h = np.tanh(x_t @ w + h @ u + b)
            states.append(h)
        below = np.array(states)
        out.append(below)
    return np.array(out)


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
def numpy_sgd() -> Callable[..., list[np.ndarray]]:
    """``sgd(net, x, t, lr, epochs, momentum=0, loss="mse", batch=1, dtype=float64)``: the trained
    ``[W0, b0, W1, b1, ...]`` by plain numpy SGD (see ``_sgd``)."""
    return _sgd


@pytest.fixture(scope="session")
def numpy_rnn() -> Callable[[RecurrentStack, np.ndarray], np.ndarray]:
    """``states(stack, x)``: every state of a recurrent stack over ``x``, computed by plain numpy."""
    return _rnn_states


@pytest.fixture(scope="session")
def assert_matches() -> Callable[[np.ndarray, np.ndarray], None]:
    """``check(outputs, reference)``: every output finite and within the tolerance."""
    return _assert_matches


@pytest.fixture(scope="session")
def product_range() -> Callable[[int, int, int], range]:
    """``products(c, P, C)``: the partitioned share of chain core ``c``, ``[floor(cP/C), floor((c+1)P/C))``."""
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
