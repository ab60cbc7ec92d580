"""Feed-forward networks: layer specs, weights, loaders and the numpy reference pass.

A layer maps ``n_in`` inputs to ``n_out`` outputs: ``y = act(x @ W + b)`` with ``W`` of
shape ``(n_in, n_out)``, the layout of scikit-learn's ``coefs_``. All values are float32.

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

from nnmap.errors import ModelError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """Apply an element-wise activation in float32 (softmax over the last axis)."""
    z = np.asarray(z, dtype=np.float32)
    if name == "sigmoid":
        return (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, np.float32(0))
    if name == "identity":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    raise ModelError(f"unknown activation {name!r}: use one of {', '.join(ACTIVATIONS)}")


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
        if self.weights.ndim != 2:
            raise ModelError(f"weights must be 2-D (inputs, outputs), got shape {self.weights.shape}")
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


def _as_mask(values: np.ndarray) -> np.ndarray:
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
        """Write the ``.npz`` format that ``load_npz`` reads."""
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
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise ModelError(f"--layers must be comma-separated integers like 6,16,4, got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ModelError(f"--layers needs at least two sizes, all >= 1, got {text!r}")
    return sizes


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


def open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """The arrays of the model file ``path``, or a ``ModelError`` if it is not a readable ``.npz``."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except (ValueError, OSError) as exc:
        raise ModelError(f"model file {path} is not a readable .npz: {exc}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ModelError(f"model file {path} holds a single array, not an .npz of named arrays")
    return data


def load_npz(path: str | Path) -> Network:
    """Load ``W0, b0, W1, b1, ...``, a string array ``activations`` and masks ``M0, M1, ...`` (for
    sparse layers, any subset) from an ``.npz``."""
    path = Path(path)
    with open_npz(path) as data:
        names = set(data.files)
        if "W0" not in names:
            raise ModelError(f"{path}: missing array W0 (expected W0, b0, W1, b1, ... and activations)")
        if "activations" not in names:
            raise ModelError(f"{path}: missing string array 'activations'")
        n_layers = 0
        while f"W{n_layers}" in names:
            n_layers += 1
        stray = sorted(name for name in names if name[:1] == "M" and name[1:].isdigit() and int(name[1:]) >= n_layers)
        if stray:
            raise ModelError(f"{path}: mask {stray[0]} has no weight array W{stray[0][1:]}")
        activations = [str(a) for a in np.atleast_1d(data["activations"])]
        if len(activations) != n_layers:
            raise ModelError(f"{path}: {n_layers} weight arrays but {len(activations)} activations")
        layers = []
        for k in range(n_layers):
            if f"b{k}" not in names:
                raise ModelError(f"{path}: missing array b{k}")
            try:
                layers.append(
                    Layer(
                        np.asarray(data[f"W{k}"], dtype=np.float32),
                        np.asarray(data[f"b{k}"], dtype=np.float32).reshape(-1),
                        activations[k],
                        _as_mask(data[f"M{k}"]) if f"M{k}" in names else None,
                    )
                )
            except ModelError as exc:
                raise ModelError(f"{path}: layer {k}: {exc}") from None
            except (TypeError, ValueError) as exc:
                raise ModelError(f"{path}: layer {k} is not numeric: {exc}") from None
    try:
        return Network(tuple(layers))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def check_inputs(net: Network, x: np.ndarray) -> np.ndarray:
    """``x`` as a float32 ``(batch, n_in)`` array, or a ``ModelError`` saying what is wrong."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise ModelError(f"inputs have shape {x.shape} but the network takes {net.sizes[0]} inputs per sample")
    if not np.all(np.isfinite(x)):
        raise ModelError("inputs contain NaN or infinity")
    return x


def load_inputs(path: str | Path, net: Network) -> np.ndarray:
    """Inputs from a ``.npy`` file of shape ``(batch, n_in)``."""
    try:
        x = np.load(Path(path), allow_pickle=False)
    except FileNotFoundError:
        raise ModelError(f"inputs file {path} does not exist") from None
    except (ValueError, OSError) as exc:
        raise ModelError(f"inputs file {path} is not a readable .npy: {exc}") from None
    return check_inputs(net, x)


def random_inputs(net: Network, batch: int = 1, seed: int = 0) -> np.ndarray:
    """Seeded inputs uniform in [0, 1)."""
    if batch < 1:
        raise ModelError(f"--batch must be >= 1, got {batch}")
    rng = np.random.default_rng(seed + 1)
    return rng.random((batch, net.sizes[0]), dtype=np.float32)
