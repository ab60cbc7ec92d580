"""Feed-forward networks: layer specs, weights, the numpy reference pass and scikit-learn import.

A layer maps ``n_in`` inputs to ``n_out`` outputs: ``y = act(x @ W + b)`` with ``W`` of
shape ``(n_in, n_out)``, the layout of scikit-learn's ``coefs_``. All values are float32.
``Network.save`` writes the ``.npz`` that ``nnmap --model`` reads (``nnmap.model_files``),
and ``from_sklearn`` turns a fitted scikit-learn MLP into a network.

A sparse layer also has a connectivity mask ``M`` shaped like ``W``: input ``i`` feeds
output ``j`` only where ``M[i, j]`` is true, and ``W`` is zero everywhere else, so the
reference pass ``x @ W`` is the masked pass ``x @ (W * M)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from epiphany_sim import checks
from nnmap.errors import ModelError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")
SKLEARN_ACTIVATIONS = {
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "identity": "identity",
    "softmax": "softmax",
}
"""scikit-learn's names of the activations (``MLPClassifier.activation``, ``out_activation_``) to this module's."""


SIGMOID_EXP_LIMIT = np.float32(-88.0)
"""Below this ``exp(-z)`` is near float32's largest value (3.4e38, ``exp(88.72)``), so ``1 / (1 + exp(-z))``
would overflow; there ``sigmoid(z) = exp(z) / (1 + exp(z))`` is ``exp(z)`` to float32's precision."""


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """Apply an element-wise activation in float32 (softmax over the last axis).

    No floating-point warning for any finite ``z``: the sigmoid takes ``exp(z)`` where
    ``exp(-z)`` would overflow, and the softmax subtracts the largest value first.
    """
    z = np.asarray(z, dtype=np.float32)
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, np.float32(0))
    if name == "identity":
        return z
    if name == "softmax":
        with np.errstate(over="ignore"):  # a difference beyond float32 is -inf, whose exp is the right 0
            e = np.exp(z - z.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    raise ModelError(f"unknown activation {name!r}: use one of {', '.join(ACTIVATIONS)}")


def activate_one(name: str, z: np.float32) -> np.float32:
    """``activate`` of one float32 value, bit for bit: the sigmoid without arrays (about 20x faster
    on one element: a core's program applies its activation one output at a time)."""
    if name != "sigmoid":
        return activate(name, np.array([z], dtype=np.float32))[0]
    if z < SIGMOID_EXP_LIMIT:
        return np.exp(z)
    one = np.float32(1)
    return one / (one + np.exp(-z))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` in float32, and ``exp(z)`` where that would overflow (``SIGMOID_EXP_LIMIT``)."""
    low = z < SIGMOID_EXP_LIMIT
    one = np.float32(1)
    out = one / (one + np.exp(-np.where(low, np.float32(0), z)))
    if low.any():
        out = np.where(low, np.exp(np.where(low, z, np.float32(0))), out)
    return out.astype(np.float32)


@dataclass(frozen=True)
class Layer:
    """One dense layer.

    Attributes:
        weights: ``(n_in, n_out)`` float32.
        bias: ``(n_out,)`` float32.
        activation: one of ``ACTIVATIONS``; softmax only on the last layer.
        mask: ``(n_in, n_out)`` bool, the connections a sparse layer has; ``None`` for a
            dense layer. Weights outside the mask must be zero.
    """

    weights: np.ndarray
    bias: np.ndarray
    activation: str
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        checks.real_dtype("weights", self.weights.dtype, ModelError)
        checks.real_dtype("biases", self.bias.dtype, ModelError)
        if self.weights.ndim != 2:
            raise ModelError(f"weights must be 2-D (inputs, outputs), got shape {self.weights.shape}")
        if 0 in self.weights.shape:
            raise ModelError(f"a layer needs inputs and outputs, got weights of shape {self.weights.shape}")
        if self.bias.shape != (self.weights.shape[1],):
            raise ModelError(f"bias shape {self.bias.shape} does not match {self.weights.shape[1]} outputs")
        if self.activation not in ACTIVATIONS:
            raise ModelError(f"unknown activation {self.activation!r}: use one of {', '.join(ACTIVATIONS)}")
        if not (np.all(np.isfinite(self.weights)) and np.all(np.isfinite(self.bias))):
            raise ModelError("weights or biases contain NaN or infinity")
        if self.mask is not None:
            _check_mask(self.mask, self.weights)

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[1])


def _check_mask(mask: np.ndarray, weights: np.ndarray) -> None:
    if mask.shape != weights.shape:
        raise ModelError(f"mask shape {mask.shape} does not match weights shape {weights.shape}")
    if mask.dtype != np.bool_:
        raise ModelError(f"mask must be boolean, got {mask.dtype}")
    outside = np.argwhere(~mask & (weights != 0))
    if len(outside):
        i, j = outside[0]
        raise ModelError(
            f"{len(outside)} nonzero weights outside the mask (the first at W[{i}, {j}]): zero them or widen the mask"
        )


def as_mask(values: np.ndarray) -> np.ndarray:
    """``values`` as a boolean mask: booleans, or numbers that are all 0 or 1; otherwise a ``ModelError``."""
    values = np.asarray(values)
    if values.dtype == np.bool_:
        return values
    if values.dtype.kind not in "iuf" or not np.all((values == 0) | (values == 1)):
        raise ModelError("mask has values other than true/false (or 1/0)")
    return values.astype(bool)


@dataclass(frozen=True)
class Network:
    """A stack of layers (dense, or sparse with a mask), each feeding the next."""

    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise ModelError("a network needs at least one layer")
        for k, (a, b) in enumerate(zip(self.layers, self.layers[1:], strict=False)):
            if a.n_out != b.n_in:
                raise ModelError(f"layer {k} has {a.n_out} outputs but layer {k + 1} takes {b.n_in} inputs")
        for k, layer in enumerate(self.layers[:-1]):
            if layer.activation == "softmax":
                raise ModelError(f"softmax is only allowed on the output layer, not on layer {k}")

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_weights(self) -> int:
        return sum(layer.weights.size for layer in self.layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The numpy reference pass in float32: ``(batch, n_in)`` to ``(batch, n_out)``."""
        h = check_inputs(self, x)
        for layer in self.layers:
            h = activate(layer.activation, h @ layer.weights + layer.bias)
        return h

    def save(self, path: str | Path) -> None:
        """Write the network as the ``.npz`` that ``nnmap run --model`` reads.

        The archive holds float32 arrays ``W0, b0, W1, b1, ...`` (``W{k}`` of shape
        ``(n_in, n_out)``), a string array ``activations``, one name per layer, and a boolean
        mask ``M{k}`` for each sparse layer.
        ``nnmap.model_files.load_model`` reads it back into an equal network.
        """
        arrays: dict[str, np.ndarray] = {}
        for k, layer in enumerate(self.layers):
            arrays[f"W{k}"] = layer.weights
            arrays[f"b{k}"] = layer.bias
            if layer.mask is not None:
                arrays[f"M{k}"] = layer.mask
        arrays["activations"] = np.array([layer.activation for layer in self.layers])
        with open(path, "wb") as fh:
            np.savez(fh, **cast(dict[str, Any], arrays))  # names W0, b0, ...: never savez's own keywords


def parse_sizes(text: str) -> list[int]:
    """``"6,16,4"`` to ``[6, 16, 4]``, with a clear error for anything else."""
    return checks.int_list("--layers", text, ModelError, min_count=2)


def random_network(sizes: Sequence[int], hidden: str = "sigmoid", output: str = "sigmoid", seed: int = 0) -> Network:
    """Seeded random weights, uniform in +-1/sqrt(n_in) (a common initialisation)."""
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        scale = 1.0 / np.sqrt(n_in)
        weights = rng.uniform(-scale, scale, size=(n_in, n_out)).astype(np.float32)
        bias = rng.uniform(-scale, scale, size=n_out).astype(np.float32)
        layers.append(Layer(weights, bias, output if k == len(sizes) - 2 else hidden))
    return Network(tuple(layers))


def from_sklearn(estimator: Any) -> Network:
    """The network of a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor``.

    Its ``coefs_`` already have this module's ``(n_in, n_out)`` layout; sklearn's
    ``logistic`` is ``sigmoid`` here. A multi-class classifier ends in softmax and gives what
    ``predict_proba`` gives; a binary classifier has one logistic output, the probability
    of the positive class (``predict_proba(x)[:, 1]``); a regressor's output is what
    ``predict`` gives. Values become float32.

    Raises:
        ModelError: ``estimator`` is not a fitted MLP.
    """
    kind = type(estimator).__name__
    if not all(hasattr(estimator, a) for a in ("coefs_", "intercepts_", "activation", "out_activation_")):
        raise ModelError(f"from_sklearn takes a fitted MLPClassifier or MLPRegressor, got {kind} (fitted?)")
    names = [estimator.activation] * (len(estimator.coefs_) - 1) + [estimator.out_activation_]
    layers = []
    for k, (weights, bias, name) in enumerate(zip(estimator.coefs_, estimator.intercepts_, names, strict=True)):
        if name not in SKLEARN_ACTIVATIONS:
            raise ModelError(f"{kind} layer {k}: activation {name!r} has no counterpart in {', '.join(ACTIVATIONS)}")
        layers.append(
            Layer(
                checks.real_array(f"{kind} layer {k} weights", weights, ModelError),
                checks.real_array(f"{kind} layer {k} biases", bias, ModelError),
                SKLEARN_ACTIVATIONS[name],
            )
        )
    return Network(tuple(layers))


def check_inputs(net: Network, x: Any) -> np.ndarray:
    """``x`` as a float32 ``(batch, n_in)`` array, or a ``ModelError`` saying what is wrong."""
    x = checks.real_array("inputs", x, ModelError)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise ModelError(f"inputs have shape {x.shape} but the network takes {net.sizes[0]} inputs per sample")
    return x


def random_inputs(net: Network, batch: int = 1, seed: int = 0) -> np.ndarray:
    """Seeded inputs uniform in [0, 1)."""
    if batch < 1:
        raise ModelError(f"--batch must be >= 1, got {batch}")
    rng = np.random.default_rng(seed + 1)
    return rng.random((batch, net.sizes[0]), dtype=np.float32)
