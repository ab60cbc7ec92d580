"""Mesh topology, core addressing, the catalogue of directed links and dimension-order routes.

Epiphany Architecture Reference: transactions are routed first along the row (east or
west) until they reach the target column, then along the column (north or south).
Core ``(row, col)`` of the chip has the global id ``(first_row + row) << 6 |
(first_col + col)`` and its local SRAM appears at ``id << 20``; the E16G301's first core
is row 32, column 8, id 0x808.

The chip has three meshes of routers, one router of each per core: the cMesh carries
writes between cores (and the replies to reads, which are writes), the rMesh read
requests, the xMesh writes that cross the chip boundary, in either direction. Each core
injects into and is fed by its own routers. The off-chip eLink attaches to one edge of the
mesh (``ChipConfig.elink_side``): every edge router of the xMesh and the rMesh feeds its
outgoing end, and its incoming end feeds the xMesh edge routers. A transaction to the host
leaves its row (or column, for a north or south eLink) at the edge; a transaction from the
host enters at the edge router of its target's row (column) and then follows the usual
order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import cast

import networkx as nx
import numpy as np

from epiphany_sim.config import ChipConfig

Coord = tuple[int, int]
HOST = ("host",)
ELINK = ("elink",)
# Link kinds, by network: a core's port into its router (``inject``), router to router
# (``cmesh``), router to its core (``eject``); "r" and "x" prefix the read-request and
# off-chip networks' own. ``xedge-in`` and ``redge-in`` join the eLink's incoming end to an
# xMesh or rMesh edge router, ``xedge-out`` and ``redge-out`` join such a router to its
# outgoing end; ``elink-in`` and ``elink-out`` are the off-chip link's write paths into the
# chip and out of it, ``elink-rin`` and ``elink-rout`` its read-request paths.
KINDS = (
    "inject",
    "cmesh",
    "eject",
    "rinject",
    "rmesh",
    "reject",
    "xinject",
    "xmesh",
    "xeject",
    "xedge-in",
    "redge-in",
    "xedge-out",
    "redge-out",
    "elink-in",
    "elink-out",
    "elink-rin",
    "elink-rout",
)
MESH_KINDS = ("cmesh", "rmesh", "xmesh")
INJECT_KINDS = ("inject", "rinject", "xinject")  # what the cores put on chip
NETWORK_PREFIX = {"c": "", "r": "r", "x": "x"}
EAST, WEST, SOUTH, NORTH, LOCAL, OFF = range(6)
DIRECTIONS = ("east", "west", "south", "north", "local", "off")
"""A mesh router's outputs, by their codes: along the row, along the column, to its core, off the
chip (the edge router's way to the eLink)."""
STEPS = {EAST: (0, 1), WEST: (0, -1), SOUTH: (1, 0), NORTH: (-1, 0)}
"""The row and column a transaction moves by through each output to a neighbour."""


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
                for prefix in NETWORK_PREFIX.values():
                    self._add(prefix + "inject", core_node((r, c)), router((r, c)))
                    self._add(prefix + "eject", router((r, c)), core_node((r, c)))
                for nr, nc in self.neighbours((r, c)):
                    for kind in MESH_KINDS:
                        self._add(kind, router((r, c)), router((nr, nc)))
                if self.edge_router((r, c)) == (r, c):
                    self._add("xedge-in", ELINK, router((r, c)))
                    self._add("redge-in", ELINK, router((r, c)))
                    self._add("xedge-out", router((r, c)), ELINK)
                    self._add("redge-out", router((r, c)), ELINK)
        self.elink_out = self._add("elink-out", ELINK, HOST)
        self.elink_in = self._add("elink-in", HOST, ELINK)
        self.elink_rout = self._add("elink-rout", ELINK, HOST)
        self.elink_rin = self._add("elink-rin", HOST, ELINK)

    def neighbours(self, coord: Coord) -> list[Coord]:
        """The mesh neighbours of a router, east, west, south, north, those that exist."""
        r, c = coord
        around = ((r, c + 1), (r, c - 1), (r + 1, c), (r - 1, c))
        return [(nr, nc) for nr, nc in around if 0 <= nr < self.rows and 0 <= nc < self.cols]

    def link(self, kind: str, src: tuple, dst: tuple) -> int:
        """The index of the link of ``kind`` from graph node ``src`` to ``dst``."""
        return self._index[(kind, src, dst)]

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

    @cached_property
    def next_hops(self) -> np.ndarray:
        """The routing: ``next_hops[i, j]`` is the output (a ``DIRECTIONS`` code) by which the
        router of core index ``i`` sends on a transaction for the core of index ``j``, or for the
        host when ``j`` is the number of cores. Along the row to the target's column first, then
        along the column, then to the core; toward the host, to the eLink's side of the mesh and
        off the chip at its edge router. Both ``route`` and the fabric's compiled loop follow it.
        """
        index = np.arange(self.rows * self.cols)
        row, col = np.divmod(index, self.cols)
        row, col = row[:, None], col[:, None]
        to_row, to_col = row.T, col.T
        to_core = np.select([to_col > col, to_col < col, to_row > row, to_row < row], [EAST, WEST, SOUTH, NORTH], LOCAL)
        # Toward the host: to the edge router of the router's own row (or column), then off the chip.
        edge = np.array([self.index_of(self.edge_router(self.coord_of(i))) for i in range(len(index))])
        to_host = np.where(edge == index, OFF, to_core[index, edge])[:, None]
        return np.concatenate([to_core, to_host], axis=1).astype(np.int8)

    def router_path(self, src: Coord, dst: Coord | tuple) -> list[Coord]:
        """Routers visited by a transaction from core ``src`` to core ``dst`` (or to ``HOST``,
        up to the edge router it leaves the chip by), following ``next_hops``."""
        target = self.rows * self.cols if dst == HOST else self.index_of(cast(Coord, dst))
        path = [src]
        at = src
        while (direction := int(self.next_hops[self.index_of(at), target])) not in (LOCAL, OFF):
            step = STEPS[direction]
            at = (at[0] + step[0], at[1] + step[1])
            path.append(at)
        return path

    def _mesh_links(self, path: list[Coord], kind: str) -> list[int]:
        return [self.link(kind, router(a), router(b)) for a, b in itertools.pairwise(path)]

    def edge_router(self, coord: Coord) -> Coord:
        """The router on the eLink edge that traffic of core ``coord`` uses, to the host and from it:
        the last of its row (or column, for a north or south eLink) on the eLink's side."""
        side = self.chip.elink_side
        r, c = coord
        return {
            "east": (r, self.cols - 1),
            "west": (r, 0),
            "north": (0, c),
            "south": (self.rows - 1, c),
        }[side]

    def route(self, src: Coord | tuple, dst: Coord | tuple, network: str = "c") -> tuple[int, ...]:
        """Link indices a transaction crosses, ports included, as the fabric routes it.

        ``src`` or ``dst`` may be ``HOST`` (the host and its DRAM, behind the eLink).
        ``network`` is ``"c"`` for writes (a write to or from the host takes the xMesh) or
        ``"r"`` for read requests.
        """
        if src == HOST and dst == HOST:
            raise ValueError("a transfer from the host to the host does not cross the chip")
        if network not in ("c", "r"):
            raise ValueError(f"network must be 'c' or 'r', got {network!r}")
        if src == HOST:
            target = cast(Coord, dst)
            prefix = "r" if network == "r" else "x"
            self.check(target)
            start = self.edge_router(target)
            links = [
                self.elink_rin if network == "r" else self.elink_in,
                self.link(prefix + "edge-in", ELINK, router(start)),
            ]
            links += self._mesh_links(self.router_path(start, target), prefix + "mesh")
            return (*links, self.link(prefix + "eject", router(target), core_node(target)))
        source = cast(Coord, src)
        self.check(source)
        prefix = "r" if network == "r" else ("x" if dst == HOST else "")
        mesh_kind = (prefix or "c") + "mesh"
        links = [self.link(prefix + "inject", core_node(source), router(source))]
        if dst == HOST:
            path = self.router_path(source, HOST)
            edge = path[-1]
            links += self._mesh_links(path, mesh_kind)
            out = self.elink_rout if network == "r" else self.elink_out
            return (*links, self.link(prefix + "edge-out", router(edge), ELINK), out)
        target = cast(Coord, dst)
        self.check(target)
        links += self._mesh_links(self.router_path(source, target), mesh_kind)
        return (*links, self.link(prefix + "eject", router(target), core_node(target)))

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

    def neighbour_chain(self, order: str = "rows") -> list[Coord]:
        """Every usable core, in the ``order`` of ``CHAIN_ORDERS``: a snake over the rows by default.

        Consecutive cores are mesh neighbours, except around a core the chip avoids
        (``ChipConfig.avoid_cores``), which the chain skips, and, in ``hilbert`` order, on a mesh
        that is not a square of a power of two cores, whose curve leaves the mesh and comes back.
        """
        if order not in CHAIN_ORDERS:
            raise ValueError(f"unknown chain order {order!r}: use one of {', '.join(CHAIN_ORDERS)}")
        avoided = set(self.chip.avoid_cores)
        return [core for core in CHAIN_ORDERS[order](self.rows, self.cols) if core not in avoided]


def _rows_snake(rows: int, cols: int) -> list[Coord]:
    """Along row 0 eastward, row 1 westward, and so on."""
    return [(r, c if r % 2 == 0 else cols - 1 - c) for r in range(rows) for c in range(cols)]


def _columns_snake(rows: int, cols: int) -> list[Coord]:
    """Down column 0, up column 1, and so on."""
    return [(r if c % 2 == 0 else rows - 1 - r, c) for c in range(cols) for r in range(rows)]


def _hilbert(rows: int, cols: int) -> list[Coord]:
    """The Hilbert curve over the smallest square of a power of two cores that holds the mesh, cores outside left out.

    Its first ``4**k`` cores fill a square of ``2**k`` by ``2**k``: a chain's first cores sit
    close together. The position ``d`` along a curve of side ``n`` is turned into a cell by
    taking two bits of ``d`` per level, from the smallest squares up, rotating the cell found
    so far into the quadrant those bits name.
    """
    n = 1 << max(rows - 1, cols - 1, 0).bit_length()
    cells: list[Coord] = []
    for d in range(n * n):
        x = y = 0
        t, s = d, 1
        while s < n:
            rx, ry = 1 & (t // 2), 1 & (t ^ (t // 2))
            if ry == 0:
                if rx == 1:
                    x, y = s - 1 - x, s - 1 - y
                x, y = y, x
            x, y = x + s * rx, y + s * ry
            t //= 4
            s *= 2
        if y < rows and x < cols:
            cells.append((y, x))
    return cells


CHAIN_ORDERS = {"rows": _rows_snake, "columns": _columns_snake, "hilbert": _hilbert}
"""The orders a chain of cores can take over the mesh, each ``(rows, cols) -> cores``."""
