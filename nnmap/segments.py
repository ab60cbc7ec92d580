"""The segments of a core's program: the layer, sample or recurrent cell its work belongs to.

A program marks where each segment begins (``nnmap.programs.Begin``), and the core records the
segment it is in with every span of its time (``epiphany_sim.core.Activity.segment``). A segment
is a record: analysis and tests read its fields (``layer``, ``sample``, ``step``); ``str`` gives
the label that traces and printouts show (``layer 1 sample 7``, ``L1T3``).

Segments are the program's own division of its work. The run's phases (setup, compute,
readback: ``nnmap.analysis.PHASES``) are spans of the whole run's time, not of a program; the
session marks a core's loading and readback with those phases' names (``"setup"``,
``"readback"``), and the host's feeding of samples with ``"feed"``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Forward:
    """The forward pass of ``layer``, of one ``sample`` where the cores work on several samples at once.

    Attributes:
        layer: the layer's index in its network.
        sample: the sample, or None where the broadcast keeps every core on the same sample
            (``Broadcast.names_samples`` is False) and the layer alone says where a core is.
    """

    layer: int
    sample: int | None = None

    def __str__(self) -> str:
        return f"layer {self.layer}" if self.sample is None else f"layer {self.layer} sample {self.sample}"


@dataclass(frozen=True)
class Backward:
    """Back-propagation: the output error first (``layer`` None), then each layer's error and weights.

    Attributes:
        layer: the layer whose error and update the core computes, or None for the output error.
    """

    layer: int | None = None

    def __str__(self) -> str:
        return "backward" if self.layer is None else f"backward layer {self.layer}"


@dataclass(frozen=True)
class Cell:
    """The cell of a recurrent stack's ``layer`` at time ``step`` (``L1T3``).

    Attributes:
        layer: the layer of the stack.
        step: the time step.
    """

    layer: int
    step: int

    def __str__(self) -> str:
        return f"L{self.layer}T{self.step}"


@dataclass(frozen=True)
class ZeroState:
    """Before a recurrent layer's first cell: each core of its group sets the state ``h[i, -1] = 0``."""

    def __str__(self) -> str:
        return "zero state"


Segment = Forward | Backward | Cell | ZeroState
"""A segment of a core's program."""
