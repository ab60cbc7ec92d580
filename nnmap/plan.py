"""A mapping as data: a strategy's deal of a network's products over a chain of cores (``Deal``),
and what the lowering makes of it, with SRAM layouts and per-core programs, of a feed-forward
network (``Plan``) or of a recurrent stack (``RecurrentPlan``). Printable and testable before
anything runs; a plan is never changed once built (``dataclasses.replace`` makes another)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate
from typing import TYPE_CHECKING

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.memory import aligned_bytes
from epiphany_sim.mesh import Coord
from nnmap.model import Network
from nnmap.programs import Op, Relay
from nnmap.recurrent.model import RecurrentStack

if TYPE_CHECKING:
    from nnmap.lowering.flows import Flow

ELEMENT_BYTES = 4  # float32


@dataclass(frozen=True)
class Piece:
    """A run of one output's products on one core.

    The products are ``x[i] * W[i, j]`` for ``i = start + t * stride``, ``t < count``.
    """

    j: int
    start: int
    count: int
    stride: int = 1

    @property
    def inputs(self) -> range:
        return range(self.start, self.start + self.count * self.stride, self.stride)

    def input_array(self) -> np.ndarray:
        """``inputs`` as an array of indices."""
        return np.arange(self.start, self.start + self.count * self.stride, self.stride)

    def describe(self) -> str:
        return f"y{self.j}[x{self.start}..x{self.inputs[-1]}" + (f" step {self.stride}]" if self.stride > 1 else "]")


@dataclass(frozen=True)
class SparsePiece:
    """Some of one output's products on one core, of a sparse layer: ``x[i] * W[i, j]`` for ``i`` in ``inputs``.

    The core stores only these connections, compressed (``nnmap.lowering.sparse``).
    """

    j: int
    inputs: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.inputs)

    def input_array(self) -> np.ndarray:
        """``inputs`` as an array of indices."""
        return np.array(self.inputs, dtype=np.int64)

    def describe(self) -> str:
        if not self.inputs:
            return f"y{self.j}[no connections]"
        return f"y{self.j}[{self.count} of x{self.inputs[0]}..x{self.inputs[-1]}]"


AnyPiece = Piece | SparsePiece
"""A piece of a dense layer (a run of inputs) or of a sparse layer (the connections it has)."""


@dataclass(frozen=True)
class LayerAssignment:
    """How one layer's products are dealt to the chain of cores; made whole by its strategy and
    never changed after.

    Attributes:
        pieces: per chain position, its pieces in product order.
        flow: how partial sums reach an output's owner (``nnmap.lowering.flows``: ``CHAIN``,
            where a partial sum moves from each contributor to the next and the last one
            owns the output, or ``GATHER``, where every contributor sends its partial sum
            straight to the owner).
        owner: chain position that finishes each output.
    """

    pieces: Sequence[Sequence[AnyPiece]]
    flow: Flow
    owner: dict[int, int]

    def contributors(self, j: int) -> list[int]:
        """Chain positions holding products of output ``j``, in chain order."""
        return self._contributors.get(j, [])

    @cached_property
    def _contributors(self) -> dict[int, list[int]]:
        held: dict[int, list[int]] = {}
        for k, pieces in enumerate(self.pieces):
            for piece in pieces:
                held.setdefault(piece.j, []).append(k)
        return held

    def owned(self, k: int) -> list[int]:
        """Outputs chain position ``k`` finishes, ascending."""
        return list(self._owned_by.get(k, ()))

    def all_owned(self) -> list[list[int]]:
        """``owned(k)`` of every chain position ``k``; the list is shared: do not change it."""
        return self._owned_all

    @cached_property
    def _owned_by(self) -> dict[int, list[int]]:
        """The outputs of each chain position, indexed once: planning asks for them for every
        core, sample and layer (a million times on 1024 cores)."""
        by: dict[int, list[int]] = {}
        for j in sorted(self.owner):
            by.setdefault(self.owner[j], []).append(j)
        return by

    @cached_property
    def _owned_all(self) -> list[list[int]]:
        return [self._owned_by.get(q, []) for q in range(len(self.pieces))]

    def products(self, k: int) -> int:
        """Multiply-adds of one sample on chain position ``k``."""
        return sum(p.count for p in self.pieces[k])

    def readers(self, n_in: int) -> np.ndarray:
        """``(cores, n_in)`` bool: whether chain position ``k`` multiplies input ``i`` in this layer."""
        reads = np.zeros((len(self.pieces), n_in), dtype=bool)
        for k, pieces in enumerate(self.pieces):
            for piece in pieces:
                reads[k, piece.input_array()] = True
        return reads

    def owners(self, n_out: int) -> np.ndarray:
        """The chain position that finishes each output, as an array."""
        return np.array([self.owner[j] for j in range(n_out)], dtype=np.int64)

    def receives_partial(self, k: int, j: int) -> bool:
        """Whether chain position ``k`` is sent partial sums of output ``j`` (the flow decides)."""
        return k in self.contributors(j) and self.flow.receives(self, k, j)


def buffer_bytes(n_elements: int) -> int:
    """The SRAM a buffer of ``n_elements`` float32 values takes, aligned."""
    return aligned_bytes(n_elements * ELEMENT_BYTES)


def data_bytes(named: dict[str, int]) -> int:
    """The SRAM the buffers ``named`` (name to elements) take together."""
    return sum(buffer_bytes(n) for n in named.values())


def piece_offsets(pieces: Sequence[Piece | SparsePiece]) -> list[int]:
    """Where each piece's weights start in its core's weight buffer of the layer (the pieces' weights lie
    there one after another, in order), and the end of the last."""
    return list(accumulate((p.count for p in pieces), initial=0))


def runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as ``(start, length)`` runs of consecutive values."""
    out: list[tuple[int, int]] = []
    for i in sorted(indices):
        if out and out[-1][0] + out[-1][1] == i:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((i, 1))
    return out


@dataclass(frozen=True)
class Deal:
    """What a strategy answers for a network (``nnmap.strategies``): the cores and each layer's deal over them.

    Attributes:
        strategy: the strategy's registered name.
        broadcast: the registered name of how hidden values reach the cores that read them
            (``nnmap.lowering.delivery``), one the strategy supports.
        chain: the cores in chain order (consecutive cores are mesh neighbours).
        layers: per layer, how its products are dealt to the chain.
    """

    strategy: str
    broadcast: str
    chain: list[Coord]
    layers: list[LayerAssignment]


@dataclass(frozen=True)
class Plan:
    """Everything needed to run a network on a chip with one strategy, made by the lowering
    (``nnmap.lowering.forward.lower``) from a ``Deal``.

    Attributes:
        config: the chip the plan is for.
        net: the network.
        strategy: the strategy's registered name.
        broadcast: the registered name of how hidden values reach the cores that read them
            (``nnmap.lowering.delivery``; the command line's ``--broadcast``).
        batch: samples per run.
        chain: the cores in chain order (consecutive cores are mesh neighbours).
        layers: per layer, how its products are dealt to the chain.
        buffers: per core, its SRAM buffers: name to float32 elements.
        setup: per core, the initial values the host loads (buffer name to values).
        parameters: per core, the names of the buffers that hold the network's weights and
            biases, in layer order.
        ops: per core, the forward program for the whole batch.
        readback: per core, the program that writes its outputs to the host.
        relays: per core, its relay rules (what it stores onward as messages land).
        dram: the host DRAM's buffers: name to elements.
        feed: how the inputs reach the cores (``nnmap.lowering.feed``): ``preload`` or ``host``.
    """

    config: ChipConfig
    net: Network
    strategy: str
    broadcast: str
    batch: int
    chain: list[Coord]
    layers: list[LayerAssignment]
    buffers: dict[Coord, dict[str, int]] = field(default_factory=dict)
    setup: dict[Coord, dict[str, np.ndarray]] = field(default_factory=dict)
    parameters: dict[Coord, list[str]] = field(default_factory=dict)
    ops: dict[Coord, tuple[Op, ...]] = field(default_factory=dict)
    readback: dict[Coord, tuple[Op, ...]] = field(default_factory=dict)
    relays: dict[Coord, tuple[Relay, ...]] = field(default_factory=dict)
    dram: dict[str, int] = field(default_factory=dict)
    feed: str = "preload"

    def sram_bytes(self, coord: Coord) -> int:
        """Bytes a core needs: its code area plus every buffer, aligned."""
        return self.config.code_bytes + data_bytes(self.buffers.get(coord, {}))

    def describe(self) -> str:
        """The plan as text: per core and layer, its products (multiply-adds), the outputs it owns, the
        partial sums it sends and receives and the cores that read its outputs; then its SRAM."""
        lines = [
            f"plan: {self.strategy} (broadcast {self.broadcast}"
            + (f", feed {self.feed}" if self.feed != "preload" else "")
            + f") of network {self.net.sizes} on "
            f"{self.config.name} ({self.config.rows}x{self.config.cols}), batch {self.batch}",
        ]
        readers = [self.layers[li + 1].readers(self.net.layers[li].n_out) for li in range(len(self.layers) - 1)]
        for k, coord in enumerate(self.chain):
            lines.append(f"core {k} at {coord} (chain position {k}):")
            for li in range(len(self.layers)):
                lines += self._describe_layer(k, li, readers[li] if li < len(readers) else None)
            usage = ", ".join(f"{name} {buffer_bytes(n)}" for name, n in self.buffers.get(coord, {}).items())
            lines.append(
                f"  SRAM: {self.sram_bytes(coord)} of {self.config.sram_bytes} bytes "
                f"(code {self.config.code_bytes}, {usage})"
            )
        return "\n".join(lines)

    def _describe_layer(self, k: int, li: int, readers: np.ndarray | None) -> list[str]:
        layer = self.layers[li]
        pieces = layer.pieces[k]
        if not pieces:
            return [f"  layer {li}: no products"]
        span = ""
        if layer.flow.contiguous and isinstance(pieces[0], Piece):
            first = pieces[0].j * self.net.layers[li].n_in + pieces[0].start
            span = f" [{first}, {first + layer.products(k)})"
        owned = layer.owned(k)
        lines = [
            f"  layer {li}: {layer.products(k)} products{span}: {', '.join(p.describe() for p in pieces)}",
            f"    owns outputs: {_compact(owned) or '-'}",
        ]
        if readers is not None and owned:
            read_by = [int(q) for q in np.flatnonzero(readers[:, owned].any(axis=1)) if q != k]
            lines.append(f"    outputs read by cores: {_compact(read_by, '') or '-'}")
        sends = [p.j for p in pieces if layer.owner[p.j] != k]
        receives = [p.j for p in pieces if layer.receives_partial(k, p.j)]
        if sends:
            lines.append(f"    sends partial sums of: {_compact(sends)}")
        if receives:
            lines.append(f"    receives partial sums of: {_compact(receives)}")
        return lines


@dataclass(frozen=True)
class RecurrentPlan:
    """Everything needed to run a recurrent stack over a sequence on a chip in one order.

    Attributes:
        config: the chip.
        stack: the network.
        steps: the sequence's length ``T``.
        order: one of ``nnmap.recurrent.plan.ORDERS``.
        chain: the cores in chain order (consecutive cores are mesh neighbours).
        groups: per layer, the chain positions of its group.
        layers: per layer, its cell's deal over its group (positions counted from the group's first).
        buffers: per core, its SRAM buffers: name to float32 elements.
        setup: per core, the initial values the host loads (buffer name to values).
        ops: per core, its program for the whole sequence.
        readback: per core, the program that writes its states to the host.
        relays: per core, its relay rules (what it stores onward as messages land).
        dram: the host DRAM's buffers: name to elements.
    """

    config: ChipConfig
    stack: RecurrentStack
    steps: int
    order: str
    chain: list[Coord]
    groups: list[range]
    layers: list[LayerAssignment]
    buffers: dict[Coord, dict[str, int]] = field(default_factory=dict)
    setup: dict[Coord, dict[str, np.ndarray]] = field(default_factory=dict)
    ops: dict[Coord, tuple[Op, ...]] = field(default_factory=dict)
    readback: dict[Coord, tuple[Op, ...]] = field(default_factory=dict)
    relays: dict[Coord, tuple[Relay, ...]] = field(default_factory=dict)
    dram: dict[str, int] = field(default_factory=dict)

    def group_cores(self, layer: int) -> list[Coord]:
        """The cores of ``layer``'s group, in chain order."""
        return [self.chain[k] for k in self.groups[layer]]


def _compact(indices: list[int], prefix: str = "y") -> str:
    return ", ".join(
        f"{prefix}{a}" if n == 1 else f"{prefix}{a}-{prefix}{a + n - 1}" for a, n in runs(list(set(indices)))
    )
