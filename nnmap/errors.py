"""The mapper's own exception types (all ``SimError``s, so one CLI handler fits both packages)."""

from __future__ import annotations

from epiphany_sim.errors import SimError


class NnmapError(SimError):
    """Base of the mapper's errors."""


class ModelError(NnmapError):
    """A network, a model file or an input array is malformed."""


class MappingError(NnmapError):
    """A network cannot be mapped onto the chip as asked."""


class SweepError(NnmapError):
    """A sweep file is malformed, its output directory unusable, or its cluster unreachable."""


class TrainingError(NnmapError):
    """Training cannot run as asked: bad hyperparameters, dataset or trainer name."""
