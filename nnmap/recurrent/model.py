"""Stacked Elman networks: their layers, weights, model files and the numpy reference.

Layer ``i`` of a stack keeps a hidden state of ``H`` values and at step ``t`` computes

    h[i, t] = tanh(x[i, t] @ W_i + h[i, t - 1] @ U_i + b_i),   h[i, -1] = 0,

where ``x[0, t]`` is the sequence's input at step ``t`` (``N`` values) and ``x[i, t] =
h[i - 1, t]`` above it (J. L. Elman, "Finding structure in time", Cognitive Science 14,
1990). ``W_i`` is ``(n_in, H)`` and ``U_i`` is ``(H, H)``, the layout of the feed-forward
layers (``nnmap.model``: ``x @ W``); every layer has the same ``H``. A cell multiplies the
concatenation ``[x; h]`` by the stacked matrix ``[W_i; U_i]``, so it is a dense layer of
``n_in + H`` inputs and ``H`` outputs. All values are float32.

The model file is an ``.npz`` holding ``W0, U0, b0, W1, U1, b1, ...`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnmap.errors import ModelError
from nnmap.model import activate
from nnmap.model_files import npz_arrays

ACTIVATION = "tanh"
ARRAYS = ("W", "U", "b")
"""The arrays of a layer in a model file, each followed by the layer's index."""


@dataclass(frozen=True)
class ElmanLayer:
    """One recurrent layer.

    Attributes:
        w: ``(n_in, H)`` float32, the weights of the layer's input.
        u: ``(H, H)`` float32, the weights of its own previous state.
        b: ``(H,)`` float32.
    """

    w: np.ndarray
    u: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        if self.w.ndim != 2 or self.w.shape[0] < 1 or self.w.shape[1] < 1:
            raise ModelError(f"W must be 2-D (inputs, hidden), got shape {self.w.shape}")
        hidden = self.w.shape[1]
        if self.u.shape != (hidden, hidden):
            raise ModelError(f"U has shape {self.u.shape} but W has {hidden} hidden units: U must be {hidden}x{hidden}")
        if self.b.shape != (hidden,):
            raise ModelError(f"b has shape {self.b.shape} but W has {hidden} hidden units")
        if not all(np.all(np.isfinite(a)) for a in (self.w, self.u, self.b)):
            raise ModelError("weights or biases contain NaN or infinity")

    @property
    def n_in(self) -> int:
        return int(self.w.shape[0])

    @property
    def hidden(self) -> int:
        return int(self.w.shape[1])

    def stacked(self) -> np.ndarray:
        """``[W; U]``, ``(n_in + H, H)``: the weights of the concatenated input ``[x; h]``."""
        return np.vstack([self.w, self.u])


@dataclass(frozen=True)
class RecurrentStack:
    """Elman layers on top of each other, each taking the states of the one below as its input."""

    layers: tuple[ElmanLayer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise ModelError("a recurrent stack needs at least one layer")
        for i, layer in enumerate(self.layers[1:], start=1):
            if layer.hidden != self.hidden:
                raise ModelError(
                    f"layer {i} has {layer.hidden} hidden units but layer 0 has {self.hidden}: "
                    "every layer of a stack has the same number"
                )
            if layer.n_in != self.hidden:
                raise ModelError(f"layer {i} takes {layer.n_in} inputs but the layer below has {self.hidden} units")

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def hidden(self) -> int:
        return self.layers[0].hidden

    @property
    def depth(self) -> int:
        return len(self.layers)

    def states(self, x: np.ndarray) -> np.ndarray:
        """The numpy reference in float32: inputs ``(T, N)`` to every state ``(L, T, H)``."""
        x = check_sequence(self, x)
        out = np.empty((self.depth, len(x), self.hidden), dtype=np.float32)
        below = x
        for i, layer in enumerate(self.layers):
            h = np.zeros(self.hidden, dtype=np.float32)
            for t in range(len(x)):
                h = activate(ACTIVATION, below[t] @ layer.w + h @ layer.u + layer.b)
                out[i, t] = h
            below = out[i]
        return out

    def save(self, path: str | Path) -> None:
        """Write the ``.npz`` that ``load_stack`` reads."""
        arrays = {f"{name}{i}": getattr(layer, name.lower()) for i, layer in enumerate(self.layers) for name in ARRAYS}
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)  # names W0, U0, b0, ...: never savez's own keywords


def random_stack(depth: int, hidden: int, n_in: int, seed: int = 0) -> RecurrentStack:
    """Seeded random weights, uniform in +-1/sqrt(n_in + H) (the fan-in of a cell)."""
    for name, value in (("--layers", depth), ("--hidden", hidden), ("--inputs-size", n_in)):
        if value < 1:
            raise ModelError(f"{name} must be >= 1, got {value}")
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(depth):
        fan_in = (n_in if i == 0 else hidden) + hidden
        scale = 1.0 / np.sqrt(fan_in)
        w, u = (
            rng.uniform(-scale, scale, size=(rows, hidden)).astype(np.float32) for rows in (fan_in - hidden, hidden)
        )
        layers.append(ElmanLayer(w, u, rng.uniform(-scale, scale, size=hidden).astype(np.float32)))
    return RecurrentStack(tuple(layers))


def load_stack(path: str | Path) -> RecurrentStack:
    """Load ``W0, U0, b0, W1, U1, b1, ...`` from an ``.npz``; anything else in it is refused."""
    path = Path(path)
    data = npz_arrays(path, "an .npz archive of arrays W0, U0, b0, W1, U1, b1, ... (as RecurrentStack.save writes)")
    names = set(data)
    depth = 0
    while any(f"{name}{depth}" in names for name in ARRAYS):
        depth += 1
    expected = {f"{name}{i}" for i in range(depth) for name in ARRAYS}
    if depth == 0 or expected - names:
        missing = sorted(expected - names) or ["W0"]
        raise ModelError(f"{path}: missing array {missing[0]} (a recurrent model holds W0, U0, b0, W1, U1, b1, ...)")
    if names - expected:
        raise ModelError(f"{path}: unexpected array {sorted(names - expected)[0]} (expected only W0, U0, b0, ...)")
    layers = []
    for i in range(depth):
        try:
            w, u, b = (_real(data[f"{name}{i}"], f"{name}{i}") for name in ARRAYS)
            layers.append(ElmanLayer(w, u, b))
        except ModelError as exc:
            raise ModelError(f"{path}: layer {i}: {exc}") from None
    try:
        return RecurrentStack(tuple(layers))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def _real(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` as float32 if they are real numbers; otherwise a ``ModelError``."""
    if values.dtype.kind not in "iuf":
        raise ModelError(f"{name} holds {values.dtype} values, not real numbers")
    with np.errstate(over="ignore"):  # a value too large for float32 becomes inf, which the layer refuses
        return values.astype(np.float32)


def check_sequence(stack: RecurrentStack, x: np.ndarray) -> np.ndarray:
    """``x`` as a float32 ``(T, N)`` array of at least one step, or a ``ModelError`` saying what is wrong."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != stack.n_in:
        raise ModelError(f"inputs have shape {x.shape} but the stack takes {stack.n_in} inputs per step")
    if len(x) < 1:
        raise ModelError("a sequence needs at least one step")
    if not np.all(np.isfinite(x)):
        raise ModelError("inputs contain NaN or infinity")
    return x


def random_sequence(stack: RecurrentStack, steps: int, seed: int = 0) -> np.ndarray:
    """Seeded inputs ``(steps, N)`` uniform in [-1, 1)."""
    if steps < 1:
        raise ModelError(f"--steps must be >= 1, got {steps}")
    rng = np.random.default_rng(seed + 1)
    return (2 * rng.random((steps, stack.n_in), dtype=np.float32) - 1).astype(np.float32)
