"""A mapping as data: who computes which products, who owns which outputs, SRAM layouts
and per-core op lists. Printable and testable before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.memory import ALIGN_BYTES
from nnmap.errors import MappingError
from nnmap.model import Network
from nnmap.program import Op, Relay

Coord = tuple[int, int]
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


class _Owners(dict):
    """Output index to the chain position that finishes it; counts its changes in ``version``."""

    version = 0  # a class default, so a copy or unpickling that fills items first still counts

    def _changed(method: Callable) -> Callable:  # type: ignore[misc]  # noqa: N805
        def wrapper(self: _Owners, *args: Any, **kwargs: Any) -> Any:
            self.version += 1
            return method(self, *args, **kwargs)

        wrapper.__name__ = method.__name__
        return wrapper

    __setitem__ = _changed(dict.__setitem__)
    __delitem__ = _changed(dict.__delitem__)
    __ior__ = _changed(dict.__ior__)
    update = _changed(dict.update)
    pop = _changed(dict.pop)
    popitem = _changed(dict.popitem)
    clear = _changed(dict.clear)
    setdefault = _changed(dict.setdefault)
    del _changed


@dataclass
class LayerAssignment:
    """How one layer's products are dealt to the chain of cores.

    Attributes:
        pieces: per chain position, its pieces in product order.
        flow: ``"chain"`` (a partial sum moves from each contributor to the next, the last
            one owns the output) or ``"gather"`` (every contributor sends its partial sum
            straight to the owner).
        owner: chain position that finishes each output.
    """

    pieces: list[list[Piece]]
    flow: str
    owner: dict[int, int]

    def contributors(self, j: int) -> list[int]:
        """Chain positions holding products of output ``j``, in chain order."""
        return self._contributors.get(j, [])

    def __post_init__(self) -> None:
        self.owner = _Owners(self.owner)
        self._owned_of: _Owners | None = None  # the owners indexed (held, so no other object takes its id)
        self._owned_version = -1
        self._owned_by: dict[int, list[int]] = {}
        self._contributors: dict[int, list[int]] = {}
        for k, pieces in enumerate(self.pieces):
            for piece in pieces:
                self._contributors.setdefault(piece.j, []).append(k)

    def owned(self, k: int) -> list[int]:
        """Outputs chain position ``k`` finishes, ascending."""
        # Planning asks this for every core, sample and layer (a million times on 1024
        # cores): index the owners once, and again only after ``owner`` has changed
        # (strategies fill it after construction).
        owner = self.owner
        if type(owner) is not _Owners:  # replaced by a plain dict
            owner = self.owner = _Owners(owner)
        if owner is not self._owned_of or owner.version != self._owned_version:
            by: dict[int, list[int]] = {}
            for j in sorted(owner):
                by.setdefault(owner[j], []).append(j)
            self._owned_by = by
            self._owned_of, self._owned_version = owner, owner.version
        return list(self._owned_by.get(k, ()))

    def products(self, k: int) -> int:
        return sum(p.count for p in self.pieces[k])

    def receives_partial(self, k: int, j: int) -> bool:
        """Whether chain position ``k`` is sent partial sums of output ``j``.

        In a chain every contributor but the first receives one (a core strictly inside an
        output receives it and passes it on); in a gather only the owner receives them.
        """
        contributors = self.contributors(j)
        if k not in contributors or len(contributors) < 2:
            return False
        if self.flow == "chain":
            return contributors[0] != k
        return self.owner[j] == k


def aligned_bytes(n_elements: int) -> int:
    size = n_elements * ELEMENT_BYTES
    return -(-size // ALIGN_BYTES) * ALIGN_BYTES


@dataclass
class Plan:
    """Everything needed to run a network on a chip with one strategy."""

    chip: ChipConfig
    net: Network
    strategy: str
    broadcast: str
    batch: int
    chain: list[Coord]
    layers: list[LayerAssignment]
    buffers: dict[Coord, dict[str, int]] = field(default_factory=dict)
    setup: dict[Coord, dict[str, np.ndarray]] = field(default_factory=dict)
    ops: dict[Coord, list[Op]] = field(default_factory=dict)
    readback: dict[Coord, list[Op]] = field(default_factory=dict)
    relays: dict[Coord, list[Relay]] = field(default_factory=dict)
    dram: dict[str, int] = field(default_factory=dict)

    def sram_bytes(self, coord: Coord) -> int:
        """Bytes a core needs: its code area plus every buffer, aligned."""
        return self.chip.code_bytes + sum(aligned_bytes(n) for n in self.buffers.get(coord, {}).values())

    def check_fits(self) -> None:
        """Raise ``MappingError`` naming the fullest core if any core's buffers overflow."""
        worst = max(self.chain, key=self.sram_bytes)
        need = self.sram_bytes(worst)
        if need > self.chip.sram_bytes:
            k = self.chain.index(worst)
            largest = max(self.buffers[worst].items(), key=lambda kv: kv[1])
            raise MappingError(
                f"network {self.net.sizes} does not fit: core {worst} (chain position {k}) needs "
                f"{need - self.chip.code_bytes} bytes of data but has {self.chip.data_bytes} bytes free "
                f"({self.chip.sram_bytes} SRAM - {self.chip.code_bytes} code; largest buffer "
                f"{largest[0]} {aligned_bytes(largest[1])} bytes); use a chip with more cores or SRAM "
                f"(e64: 64 cores, epiphany-v: 1024 cores of 64 KB), a smaller --batch, or a smaller network"
            )

    def describe(self) -> str:
        """The plan as text: per core, its products, owned outputs, partial sums and SRAM."""
        lines = [
            f"plan: {self.strategy} (broadcast {self.broadcast}) of network {self.net.sizes} on "
            f"{self.chip.name} ({self.chip.rows}x{self.chip.cols}), batch {self.batch}",
        ]
        for k, coord in enumerate(self.chain):
            lines.append(f"core {k} at {coord} (chain position {k}):")
            for layer_index, layer in enumerate(self.layers):
                n_in = self.net.layers[layer_index].n_in
                pieces = layer.pieces[k]
                if not pieces:
                    lines.append(f"  layer {layer_index}: no products")
                    continue
                ranges = ", ".join(
                    f"y{p.j}[x{p.start}..x{p.inputs[-1]}" + (f" step {p.stride}]" if p.stride > 1 else "]")
                    for p in pieces
                )
                first = pieces[0].j * n_in + pieces[0].start
                lines.append(
                    f"  layer {layer_index}: {layer.products(k)} products"
                    + (f" [{first}, {first + layer.products(k)})" if layer.flow == "chain" else "")
                    + f": {ranges}"
                )
                owned = layer.owned(k)
                lines.append(f"    owns outputs: {_compact(owned) or '-'}")
                sends = [p.j for p in pieces if layer.owner[p.j] != k]
                receives = [p.j for p in pieces if layer.receives_partial(k, p.j)]
                if sends:
                    lines.append(f"    sends partial sums of: {_compact(sends)}")
                if receives:
                    lines.append(f"    receives partial sums of: {_compact(receives)}")
            usage = ", ".join(f"{name} {aligned_bytes(n)}" for name, n in self.buffers.get(coord, {}).items())
            lines.append(
                f"  SRAM: {self.sram_bytes(coord)} of {self.chip.sram_bytes} bytes "
                f"(code {self.chip.code_bytes}, {usage})"
            )
        return "\n".join(lines)


def _compact(indices: list[int]) -> str:
    out = []
    for j in sorted(set(indices)):
        if out and out[-1][1] == j - 1:
            out[-1][1] = j
        else:
            out.append([j, j])
    return ", ".join(f"y{a}" if a == b else f"y{a}-y{b}" for a, b in out)
