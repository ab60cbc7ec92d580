"""The ``pipeline`` trainer: back-propagation with the layers on the layer pipeline's groups of cores.

The layers are dealt as the ``pipeline`` strategy deals them (``nnmap.strategies.pipeline``):
each on its own group of cores, partitioned inside it. Back-propagation is update locked:
a layer's group may update its weights only once the errors of the sample have come back
from every layer above, and the next sample's forward pass needs the new weights, so the
groups take turns: layer ``l``'s group computes only during layer ``l``'s forward and
backward steps of each sample. The programs are ``BackpropProgram``'s, with the hidden
values broadcast to every core; the comparison that shows what removing the update lock
(``dni``) buys.
"""

from __future__ import annotations

from nnmap.training.base import TRAINERS
from nnmap.training.partitioned import PartitionedBackprop


@TRAINERS.add
class PipelineBackprop(PartitionedBackprop):
    """Back-propagation on the layer pipeline's groups of cores."""

    name = "pipeline"
    strategy = "pipeline"
