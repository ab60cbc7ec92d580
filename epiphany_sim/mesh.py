"""Mesh topology, core addressing and dimension-order routes.

Epiphany Architecture Reference: transactions are routed first along the row (east or
west) until they reach the target column, then along the column (north or south).
Core ``(row, col)`` of the chip has the global id ``(first_row + row) << 6 |
(first_col + col)`` and its local SRAM appears at ``id << 20``; the E16G301's first core
is row 32, column 8, id 0x808.

The off-chip eLink attaches to one edge of the mesh (``ChipConfig.elink_side``); every
router on that edge feeds the same eLink. A transaction to the host leaves its row (or
column, for a north or south eLink) at the edge; a transaction from the host enters at the
edge router of its target's row (column) and then follows the usual order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from epiphany_sim.config import ChipConfig

Coord = tuple[int, int]
HOST = ("host",)
# Link kinds: mesh links between routers, a core's port into / out of its router, and
# the two directions of the eLink. "r" prefixes the read-request network's own links.
KINDS = ("cmesh", "inject", "eject", "elink-out", "elink-in", "rmesh", "rinject", "reject")


def router(coord: Coord) -> tuple[str, int, int]:
    return ("router", coord[0], coord[1])


def core_node(coord: Coord) -> tuple[str, int, int]:
    return ("core", coord[0], coord[1])


@dataclass(frozen=True)
class LinkSpec:
    """One directed link of the model.

    Attributes:
        index: position in ``Mesh.links``.
        kind: one of ``KINDS``.
        src: graph node the link leaves.
        dst: graph node the link enters.
    """

    index: int
    kind: str
    src: tuple
    dst: tuple

    @property
    def name(self) -> str:
        def fmt(node: tuple) -> str:
            return node[0] if len(node) == 1 else f"{node[0][0]}{node[1]},{node[2]}"

        return f"{self.kind}:{fmt(self.src)}->{fmt(self.dst)}"


class Mesh:
    """The directed graph of routers, cores, the host and the links between them."""

    def __init__(self, chip: ChipConfig) -> None:
        self.chip = chip
        self.rows = chip.rows
        self.cols = chip.cols
        self.links: list[LinkSpec] = []
        self._index: dict[tuple[str, tuple, tuple], int] = {}
        for r in range(self.rows):
            for c in range(self.cols):
                for prefix in ("", "r"):
                    self._add(prefix + "inject", core_node((r, c)), router((r, c)))
                    self._add(prefix + "eject", router((r, c)), core_node((r, c)))
                for nr, nc in ((r, c + 1), (r, c - 1), (r + 1, c), (r - 1, c)):
                    if 0 <= nr < self.rows and 0 <= nc < self.cols:
                        for kind in ("cmesh", "rmesh"):
                            self._add(kind, router((r, c)), router((nr, nc)))
        self.elink_out = self._add("elink-out", ("elink",), HOST)
        self.elink_in = self._add("elink-in", HOST, ("elink",))

    def _add(self, kind: str, src: tuple, dst: tuple) -> int:
        index = len(self.links)
        self.links.append(LinkSpec(index, kind, src, dst))
        self._index[(kind, src, dst)] = index
        return index

    # Addressing -----------------------------------------------------------------
    def index_of(self, coord: Coord) -> int:
        """Logical core index, row-major from 0."""
        self.check(coord)
        return coord[0] * self.cols + coord[1]

    def coord_of(self, index: int) -> Coord:
        if not 0 <= index < self.rows * self.cols:
            raise ValueError(f"core index {index} is outside a {self.rows}x{self.cols} mesh")
        return divmod(index, self.cols)

    def check(self, coord: Coord) -> None:
        if not (0 <= coord[0] < self.rows and 0 <= coord[1] < self.cols):
            raise ValueError(f"core {coord} is outside a {self.rows}x{self.cols} mesh")

    def core_id(self, coord: Coord) -> int:
        """The hardware core id: 6-bit row and 6-bit column of the global address map."""
        self.check(coord)
        return (self.chip.first_row + coord[0]) << 6 | (self.chip.first_col + coord[1])

    def global_address(self, coord: Coord, offset: int = 0) -> int:
        """Global address of byte ``offset`` of a core's local SRAM."""
        if not 0 <= offset < self.chip.sram_bytes:
            raise ValueError(f"offset {offset} is outside the {self.chip.sram_bytes}-byte SRAM")
        return self.core_id(coord) << 20 | offset

    # Routes ---------------------------------------------------------------------
    def hops(self, src: Coord, dst: Coord) -> int:
        """Router-to-router links a write from ``src`` to ``dst`` crosses."""
        return abs(src[0] - dst[0]) + abs(src[1] - dst[1])

    def router_path(self, src: Coord, dst: Coord) -> list[Coord]:
        """Routers visited, along the row to the target column first, then the column."""
        path = [src]
        r, c = src
        while c != dst[1]:
            c += 1 if dst[1] > c else -1
            path.append((r, c))
        while r != dst[0]:
            r += 1 if dst[0] > r else -1
            path.append((r, c))
        return path

    def _mesh_links(self, path: list[Coord], kind: str) -> list[int]:
        return [self._index[(kind, router(a), router(b))] for a, b in zip(path, path[1:], strict=False)]

    def edge_router(self, coord: Coord) -> Coord:
        """The router on the eLink edge that traffic of core ``coord`` uses."""
        side = self.chip.elink_side
        r, c = coord
        return {
            "east": (r, self.cols - 1),
            "west": (r, 0),
            "north": (0, c),
            "south": (self.rows - 1, c),
        }[side]

    def route(self, src: Coord | tuple, dst: Coord | tuple, network: str = "c") -> tuple[int, ...]:
        """Link indices a transfer crosses, ports included.

        ``src`` or ``dst`` may be ``HOST`` (the host and its DRAM, behind the eLink).
        ``network`` is ``"c"`` for writes (and read replies) or ``"r"`` for read requests.
        Not cached here: ``Network`` keeps the routes it has used.
        """
        mesh_kind, prefix = ("cmesh", "") if network == "c" else ("rmesh", "r")
        links: list[int] = []
        if src == HOST and dst == HOST:
            raise ValueError("a transfer from the host to the host does not cross the chip")
        if src == HOST:
            start = self.edge_router(dst)  # type: ignore[arg-type]
            links.append(self.elink_in)
        else:
            self.check(src)  # type: ignore[arg-type]
            start = src  # type: ignore[assignment]
            links.append(self._index[(prefix + "inject", core_node(src), router(src))])  # type: ignore[arg-type]
        end = self.edge_router(src) if dst == HOST else dst  # type: ignore[arg-type]
        if dst != HOST:
            self.check(dst)  # type: ignore[arg-type]
        links.extend(self._mesh_links(self.router_path(start, end), mesh_kind))
        if dst == HOST:
            links.append(self.elink_out)
        else:
            links.append(self._index[(prefix + "eject", router(dst), core_node(dst))])  # type: ignore[arg-type]
        return tuple(links)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The topology as a networkx graph; each edge carries its ``LinkSpec`` index."""
        g = nx.DiGraph()
        for spec in self.links:
            if spec.kind in ("cmesh", "inject", "eject"):
                g.add_edge(spec.src, spec.dst, index=spec.index, kind=spec.kind)
        for r in range(self.rows):
            for c in range(self.cols):
                if self.edge_router((r, c)) == (r, c):
                    g.add_edge(router((r, c)), HOST, index=self.elink_out, kind="elink-out")
                    g.add_edge(HOST, router((r, c)), index=self.elink_in, kind="elink-in")
        return g

    def neighbour_chain(self) -> list[Coord]:
        """All cores in a snake over the rows: consecutive cores are mesh neighbours."""
        chain = []
        for r in range(self.rows):
            cols = range(self.cols) if r % 2 == 0 else range(self.cols - 1, -1, -1)
            chain.extend((r, c) for c in cols)
        return chain
