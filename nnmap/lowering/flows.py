"""How the partial sums of one output travel to the core that finishes it.

A layer's products are dealt to the cores of a chain (``nnmap.plan.LayerAssignment``);
an output whose products sit on several cores (its contributors) needs their partial sums
added up by one of them, its owner. A flow decides how they travel and writes the ops of
each piece of products a core holds:

- ``Chain`` (the partitioned scheme): each contributor adds the partial sum that
  arrives from the previous one and hands the total to the next; the last one owns the
  output. A core receives at most one chained partial sum per layer.
- ``Gather``: every contributor sends its partial sum straight to the owner, which waits
  for all of them.

The ops of a piece go into one of three stages, run in this order on each core (the
blog's steps): ``HAND_OFF`` (partial sums another core waits for: computed and sent at
once), ``WHOLE`` (outputs the core computes alone), ``TAKE`` (outputs whose partial sums
arrive from other cores).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar

from epiphany_sim.mesh import Coord
from nnmap import buffers
from nnmap.errors import MappingError
from nnmap.programs import Op, Send, Sum, Wait

if TYPE_CHECKING:
    from nnmap.plan import LayerAssignment


class Stage(IntEnum):
    """When a piece's ops run on its core, in the order of the values."""

    HAND_OFF = 0
    WHOLE = 1
    TAKE = 2


STAGES = tuple(Stage)  # iterating an Enum class is slow, and staged_ops runs per core, layer and sample


@dataclass(frozen=True, slots=True)
class PieceContext:
    """What a flow needs to write the ops of piece ``t`` of chain core ``k`` in one layer.

    Attributes:
        assign: the layer's assignment.
        chain: the cores in chain order.
        layer: the layer's index.
        k: the chain position of the core.
        t: the piece's index among the core's pieces (its slot in ``acc``).
        slot: the sample's partial-sum slot (``nnmap.lowering.forward.partial_slots``).
        uses: how many samples have used that slot, this one included (cumulative waits).
        mac: the op that sums the piece's products into ``acc[t]`` (a ``Mac``, or a
            ``nnmap.programs.SparseMac`` on a sparse layer).
        finish: makes the ops that turn ``acc[t]`` into the output and share it (only
            the owner calls it).
    """

    assign: LayerAssignment
    chain: list[Coord]
    layer: int
    k: int
    t: int
    slot: int
    uses: int
    mac: Op
    finish: Callable[[], list[Op]]

    @property
    def j(self) -> int:
        return self.assign.pieces[self.k][self.t].j

    @property
    def acc(self) -> str:
        return buffers.acc(self.layer)


def staged_ops(pieces: Iterable[PieceContext]) -> list[Op]:
    """The ops of one core's pieces of one layer, grouped by stage in the order the stages run."""
    staged: dict[Stage, list[Op]] = {stage: [] for stage in STAGES}
    for ctx in pieces:
        stage, ops = ctx.assign.flow.piece_ops(ctx)
        staged[stage] += ops
    return [op for stage in STAGES for op in staged[stage]]


class Flow:
    """How the partial sums of an output reach its owner; subclasses fill in the hooks."""

    name: ClassVar[str] = ""
    contiguous: ClassVar[bool] = False
    """Whether each core's products form one contiguous range (``Plan.describe`` prints it)."""

    def receives(self, assign: LayerAssignment, k: int, j: int) -> bool:
        """Whether chain position ``k``, a contributor of output ``j``, is sent partial sums of it."""
        raise NotImplementedError

    def receive_buffers(self, assign: LayerAssignment, k: int, layer: int, slot: int) -> dict[str, int]:
        """Buffers (name to elements) core ``k`` needs for the partial sums it is sent in one slot."""
        raise NotImplementedError

    def piece_ops(self, ctx: PieceContext) -> tuple[Stage, list[Op]]:
        """The ops of one piece and the stage they belong to."""
        raise NotImplementedError

    def partial_sends(self, assign: LayerAssignment, j: int) -> list[tuple[int, int]]:
        """``(from, to)`` chain positions of every partial sum of output ``j`` sent in one sample."""
        raise NotImplementedError

    def check(self, assign: LayerAssignment, k: int, layer: int) -> None:
        """Raise ``MappingError`` if core ``k``'s pieces cannot run with this flow."""


class Chain(Flow):
    """Each contributor adds the incoming partial sum and hands the total on; the last owns the output."""

    name = "chain"
    contiguous = True

    def receives(self, assign: LayerAssignment, k: int, j: int) -> bool:
        contributors = assign.contributors(j)
        return len(contributors) > 1 and contributors[0] != k

    def receive_buffers(self, assign: LayerAssignment, k: int, layer: int, slot: int) -> dict[str, int]:
        if any(self.receives(assign, k, p.j) for p in assign.pieces[k]):
            return {buffers.chained_partial(layer, slot): 1}
        return {}

    def partial_sends(self, assign: LayerAssignment, j: int) -> list[tuple[int, int]]:
        contributors = assign.contributors(j)
        return list(zip(contributors, contributors[1:], strict=False))

    def check(self, assign: LayerAssignment, k: int, layer: int) -> None:
        incoming = sum(self.receives(assign, k, p.j) for p in assign.pieces[k])
        if incoming > 1:
            raise MappingError(f"core {k} would receive {incoming} chained partial sums in layer {layer}")

    def piece_ops(self, ctx: PieceContext) -> tuple[Stage, list[Op]]:
        contributors = ctx.assign.contributors(ctx.j)
        pos = contributors.index(ctx.k)
        pin = buffers.chained_partial(ctx.layer, ctx.slot)
        take: list[Op] = []
        if pos > 0:
            take = [Wait(pin, ctx.uses, f"wait partial y{ctx.j}"), Sum(ctx.acc, ctx.t, pin, 0, 1, "add partial")]
        if ctx.assign.owner[ctx.j] != ctx.k:
            hand = Send(ctx.chain[contributors[pos + 1]], pin, 0, ctx.acc, ctx.t, 1, f"partial y{ctx.j}")
            return Stage.HAND_OFF, [ctx.mac, *take, hand]
        return (Stage.TAKE if take else Stage.WHOLE), [ctx.mac, *take, *ctx.finish()]


class Gather(Flow):
    """Every contributor sends its partial sum to the owner, which adds them all."""

    name = "gather"

    def _others(self, assign: LayerAssignment, j: int) -> list[int]:
        return [q for q in assign.contributors(j) if q != assign.owner[j]]

    def receives(self, assign: LayerAssignment, k: int, j: int) -> bool:
        return len(assign.contributors(j)) > 1 and assign.owner[j] == k

    def receive_buffers(self, assign: LayerAssignment, k: int, layer: int, slot: int) -> dict[str, int]:
        return {
            buffers.gathered_partials(layer, slot, p.j): len(assign.contributors(p.j)) - 1
            for p in assign.pieces[k]
            if self.receives(assign, k, p.j)
        }

    def partial_sends(self, assign: LayerAssignment, j: int) -> list[tuple[int, int]]:
        return [(q, assign.owner[j]) for q in self._others(assign, j)]

    def piece_ops(self, ctx: PieceContext) -> tuple[Stage, list[Op]]:
        owner = ctx.assign.owner[ctx.j]
        others = self._others(ctx.assign, ctx.j)
        ps = buffers.gathered_partials(ctx.layer, ctx.slot, ctx.j)
        if owner != ctx.k:
            send = Send(ctx.chain[owner], ps, others.index(ctx.k), ctx.acc, ctx.t, 1, f"partial y{ctx.j}")
            return Stage.HAND_OFF, [ctx.mac, send]
        if not others:
            return Stage.WHOLE, [ctx.mac, *ctx.finish()]
        wait = Wait(ps, ctx.uses * len(others), f"wait partials y{ctx.j}")
        return Stage.TAKE, [ctx.mac, wait, Sum(ctx.acc, ctx.t, ps, 0, len(others), "add partials"), *ctx.finish()]


CHAIN = Chain()
GATHER = Gather()
