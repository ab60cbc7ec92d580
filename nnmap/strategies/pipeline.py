"""Layer pipelining: each layer on its own contiguous group of cores, the batch streamed through.

The chain is cut into consecutive groups, one per layer in layer order, so the last core of
one group neighbours the first core of the next. Group sizes follow the layers' work
(``group_sizes``): their multiply-adds counted in the cycles one core spends on them,
each output's loop overhead, bias and activation included (``nnmap.work``), since a layer
of short dot products costs more per multiply-add than one of long ones. Inside its group
a layer is dealt by the partitioned scheme (contiguous product ranges, partial sums
handed along the group). With the
``stream`` delivery each layer's values go only to the next group, which returns a credit
per sample, so layer ``l`` works on sample ``s`` while layer ``l + 1`` works on sample
``s - 1`` (``nnmap.lowering.delivery.Stream``).

``pipeline=W1+W2+...`` shares the cores by the weights ``W`` given per layer instead of the
layers' work, by the same method: weights equal to group sizes that add up to the cores give
exactly those groups (``pipeline=4+12`` on 16 cores).

With fewer cores than layers no layer can have cores of its own: every layer is then dealt
over all of them, as the partitioned scheme deals it (the single-core baseline of
``speedup`` is such a chain).
"""

from __future__ import annotations

from collections.abc import Sequence

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap.errors import MappingError
from nnmap.model import Network
from nnmap.plan import LayerAssignment
from nnmap.strategies.base import SEPARATOR, STRATEGIES, Strategy
from nnmap.strategies.partitioned import Partitioned
from nnmap.work import output_cycles


def group_sizes(work: Sequence[float], n_cores: int) -> list[int]:
    """Cores per layer, one at least each: every further core goes to the layer with the most work per core so far.

    This is D'Hondt's method of highest averages; of all ways to share ``n_cores`` it leaves
    the smallest largest ``work[l] / cores[l]``, the busiest group's share of the work. Ties
    go to the earlier layer.
    """
    sizes = [1] * len(work)
    for _ in range(n_cores - len(work)):
        busiest = max(range(len(work)), key=lambda li: work[li] / sizes[li])
        sizes[busiest] += 1
    return sizes


def layer_work(config: ChipConfig, net: Network) -> list[float]:
    """Each layer's work: the cycles one core spends on all its outputs (``nnmap.work``)."""
    return [float(output_cycles(config, layer).sum()) for layer in net.layers]


def on_group(assign: LayerAssignment, start: int, n_cores: int) -> LayerAssignment:
    """``assign``, dealt over a group of cores, moved to positions ``start, start + 1, ...`` of ``n_cores``."""
    before: list[list] = [[] for _ in range(start)]
    after: list[list] = [[] for _ in range(n_cores - start - len(assign.pieces))]
    owner = {j: k + start for j, k in assign.owner.items()}
    return LayerAssignment([*before, *assign.pieces, *after], assign.flow, owner)


def groups(sizes: Sequence[int]) -> list[range]:
    """The chain positions of each group, consecutive groups of ``sizes`` cores."""
    out, start = [], 0
    for size in sizes:
        out.append(range(start, start + size))
        start += size
    return out


WEIGHTED = "pipeline="
"""How a pipeline with group weights is named: ``pipeline=W1+W2+...``."""


@STRATEGIES.add
class Pipeline(Strategy):
    """Each layer on its own group of cores, the batch streamed through them."""

    name = "pipeline"
    default_broadcast = "stream"
    # Its groups run their layers apart, so nothing keeps a group within one sample of the next:
    # only a delivery with credits (stream) or a copy of each vector per sample (targeted) keeps
    # a value from being overwritten before its readers have used it.
    broadcasts = ("stream", "targeted")

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        self.weights = list(weights) if weights else None
        if self.weights:
            self.name = WEIGHTED + SEPARATOR.join(f"{w:g}" for w in self.weights)

    def place(self, config: ChipConfig, net: Network, chain: list[Coord]) -> tuple[list[Coord], list[LayerAssignment]]:
        n = len(chain)
        inside = Partitioned()
        if n < len(net.layers):
            return chain, [inside.deal(layer, n) for layer in net.layers]
        sizes = group_sizes(self._weights(config, net), n)
        return chain, [
            on_group(inside.deal(layer, len(group)), group.start, n)
            for layer, group in zip(net.layers, groups(sizes), strict=True)
        ]

    def _weights(self, config: ChipConfig, net: Network) -> list[float]:
        """The weights the groups are shared by: those given, else each layer's work."""
        if self.weights is None:
            return layer_work(config, net)
        if len(self.weights) != len(net.layers):
            raise MappingError(
                f"strategy {self.name} gives {len(self.weights)} group weights but the network has "
                f"{len(net.layers)} layers"
            )
        return self.weights
