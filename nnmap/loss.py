"""Losses and derivatives, the formulas every trainer and kernel shares.

Per sample the trainers descend ``E = 1/2 sum_j (y_j - t_j)^2`` (``mse``) or the binary
cross-entropy ``E = -sum_j [t_j log y_j + (1 - t_j) log(1 - y_j)]`` of sigmoid outputs
(``cross-entropy``). The output error ``dE/dz_j`` is then ``(y_j - t_j) f'(z_j)`` or simply
``y_j - t_j``. What a trainer reports per epoch is the mean over samples and outputs of
``(y - t)^2`` (the mean squared error) or of the cross-entropy terms.
"""

from __future__ import annotations

import numpy as np

from nnmap.errors import TrainingError

LOSSES = ("mse", "cross-entropy")
DIFFERENTIABLE = ("sigmoid", "tanh", "relu", "identity")  # written in terms of the output y
EPSILON = 1e-7  # keeps log() finite when a sigmoid saturates


def derivative(activation: str, y: np.ndarray) -> np.ndarray:
    """``f'(z)`` written from the activation's output ``y = f(z)``, in float32."""
    y = np.asarray(y, dtype=np.float32)
    if activation == "sigmoid":
        return y * (np.float32(1) - y)
    if activation == "tanh":
        return np.float32(1) - y * y
    if activation == "relu":
        return (y > 0).astype(np.float32)
    if activation == "identity":
        return np.ones_like(y)
    raise TrainingError(f"cannot train through activation {activation!r}: use one of {', '.join(DIFFERENTIABLE)}")


def output_error(loss: str, activation: str, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``dE/dz`` at the output layer, in float32."""
    diff = np.asarray(y, dtype=np.float32) - np.asarray(t, dtype=np.float32)
    if loss == "cross-entropy":
        return diff
    return diff * derivative(activation, y)


def loss_value(loss: str, y: np.ndarray, t: np.ndarray) -> float:
    """The reported loss of outputs ``y`` against targets ``t`` (mean over all entries)."""
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if loss == "cross-entropy":
        y = np.clip(y, EPSILON, 1 - EPSILON)
        return float(np.mean(-(t * np.log(y) + (1 - t) * np.log(1 - y))))
    return float(np.mean((y - t) ** 2))


def accuracy(y: np.ndarray, t: np.ndarray) -> float:
    """Share of samples classified right: threshold 0.5 for one output, else the largest output."""
    if y.shape[1] == 1:
        return float(np.mean((y[:, 0] > 0.5) == (t[:, 0] > 0.5)))
    return float(np.mean(np.argmax(y, axis=1) == np.argmax(t, axis=1)))


def check_trainable(loss: str, activations: list[str]) -> None:
    """Raise ``TrainingError`` unless back-propagation can run through these activations."""
    if loss not in LOSSES:
        raise TrainingError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")
    for k, activation in enumerate(activations):
        if activation not in DIFFERENTIABLE:
            raise TrainingError(
                f"layer {k} has activation {activation!r}; training needs one of "
                f"{', '.join(DIFFERENTIABLE)} (softmax is not supported: use sigmoid outputs)"
            )
    if loss == "cross-entropy" and activations[-1] != "sigmoid":
        raise TrainingError(f"cross-entropy needs sigmoid outputs, the output layer has {activations[-1]!r}")
