"""Training sets: the OR and XOR logic gates and scikit-learn's bundled tables.

Every set is float32 features in ``[0, 1]`` (min-max scaled per feature) and float32
targets in ``{0, 1}``: one column for a gate, one-hot columns for a class table. The
sample order is a permutation drawn from ``seed``, fixed once loaded: trainers walk it in
this order every epoch unless they say otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.errors import TrainingError

GATES = {
    "or": np.array([0, 1, 1, 1], dtype=np.float32),
    "xor": np.array([0, 1, 1, 0], dtype=np.float32),
}


@dataclass(frozen=True)
class Dataset:
    """Samples in training order.

    Attributes:
        name: what the set is called (``or``, ``digits``, ...).
        x: ``(n_samples, n_in)`` float32 features.
        y: ``(n_samples, n_out)`` float32 targets (0 or 1).
    """

    name: str
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.y.ndim != 2 or len(self.x) != len(self.y):
            raise TrainingError(
                f"dataset {self.name}: features {self.x.shape} and targets {self.y.shape} "
                "must be 2-D with one row per sample"
            )
        if len(self.x) == 0:
            raise TrainingError(f"dataset {self.name} has no samples")
        if not (np.all(np.isfinite(self.x)) and np.all(np.isfinite(self.y))):
            raise TrainingError(f"dataset {self.name} contains NaN or infinity")

    @property
    def n_samples(self) -> int:
        return int(len(self.x))

    @property
    def n_in(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.y.shape[1])

    def head(self, n: int) -> Dataset:
        """The first ``n`` samples (all of them if there are fewer)."""
        if n < 1:
            raise TrainingError(f"a dataset needs at least one sample, asked for {n}")
        return Dataset(self.name, self.x[:n], self.y[:n])


def _gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return x, GATES[name][:, None]


def _table(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets  # imported on use: it takes seconds to import

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    low, span = x.min(axis=0), np.ptp(x, axis=0)
    x = (x - low) / np.where(span > 0, span, 1.0)
    return x.astype(np.float32), np.eye(labels.max() + 1, dtype=np.float32)[labels]


DATASETS = ("or", "xor", "digits", "iris", "wine")


def load_dataset(name: str, seed: int = 0) -> Dataset:
    """The set called ``name``, its samples in the order drawn from ``seed``."""
    if name not in DATASETS:
        raise TrainingError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}")
    x, y = _gate(name) if name in GATES else _table(name)
    order = np.random.default_rng(seed).permutation(len(x))
    return Dataset(name, x[order], y[order])
