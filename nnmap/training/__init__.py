"""Training on the simulated chip: datasets, losses, the trainer framework and the trainers.

Each trainer lives in its own module here; importing the package imports them all, and
defining a ``Trainer`` subclass registers it (see ``nnmap.training.base``).
"""

import importlib
import pkgutil

from nnmap.training.base import (
    TRAINERS,
    EpochRecord,
    Hyperparameters,
    Trainer,
    TrainResult,
    check_shards,
    get_trainer,
    network_for,
    takers,
    train,
)
from nnmap.training.datasets import DATASETS, Dataset, load_dataset

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "DATASETS",
    "TRAINERS",
    "Dataset",
    "EpochRecord",
    "Hyperparameters",
    "TrainResult",
    "Trainer",
    "check_shards",
    "get_trainer",
    "load_dataset",
    "network_for",
    "takers",
    "train",
]
