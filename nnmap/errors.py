"""The mapper's own exception types (all ``SimError``s, so one CLI handler fits both packages)."""

from __future__ import annotations

from epiphany_sim.errors import SimError


class NnmapError(SimError):
    """Base of the mapper's errors."""


class ModelError(NnmapError):
    """A network, a model file or an input array is malformed."""


class MappingError(NnmapError):
    """A network cannot be mapped onto the chip as asked."""


class TooManyRowsError(MappingError):
    """More input rows than one run holds, where fewer fit: ``nnmap.chunks.run_all`` runs them in chunks.

    ``layout_error`` is the plan's own refusal (the fullest core, in the command line's
    terms), which ``nnmap``'s ``--batch`` reports instead.
    """

    def __init__(self, message: str, layout_error: MappingError) -> None:
        super().__init__(message)
        self.layout_error = layout_error


class SweepError(NnmapError):
    """A sweep file is malformed, its output directory unusable, or its cluster unreachable."""


class TrainingError(NnmapError):
    """Training cannot run as asked: bad hyperparameters, dataset or trainer name."""
