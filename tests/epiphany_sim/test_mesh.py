"""Core addressing, dimension-order routes and the topology graph."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import networkx as nx
import pytest

from epiphany_sim import E16, E64, HOST, Mesh
from epiphany_sim.config import chip_from_name
from epiphany_sim.mesh import router


def test_the_first_core_is_0x808_at_row_32_col_8() -> None:
    mesh = Mesh(E16)
    assert mesh.core_id((0, 0)) == 0x808
    assert mesh.global_address((0, 0)) == 0x80800000
    assert mesh.global_address((0, 0), 0x100) == 0x80800100


@pytest.mark.parametrize("coord", [(0, 0), (0, 3), (2, 1), (3, 3)])
def test_global_address_is_row_shl_26_or_col_shl_20(coord: tuple[int, int]) -> None:
    mesh = Mesh(E16)
    row, col = 32 + coord[0], 8 + coord[1]
    assert mesh.core_id(coord) == row * 64 + col
    assert mesh.global_address(coord) == (row << 26) | (col << 20)


def test_e64_last_core_address() -> None:
    assert Mesh(E64).core_id((7, 7)) == 0x9CF  # row 39, column 15
    assert Mesh(E64).global_address((7, 7)) == 0x9CF00000


def test_addresses_outside_the_chip_are_rejected() -> None:
    mesh = Mesh(E16)
    with pytest.raises(ValueError, match="outside"):
        mesh.core_id((4, 0))
    with pytest.raises(ValueError, match="outside"):
        mesh.global_address((0, 0), 32 * 1024)
    with pytest.raises(ValueError, match="outside"):
        mesh.coord_of(16)


def test_core_index_and_coordinate_round_trip() -> None:
    mesh = Mesh(E64)
    assert [mesh.index_of(mesh.coord_of(i)) for i in range(64)] == list(range(64))
    assert mesh.coord_of(11) == (1, 3)


@pytest.mark.parametrize(
    ("src", "dst", "path"),
    [
        ((0, 0), (2, 3), [(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]),
        ((2, 3), (0, 0), [(2, 3), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0)]),
        ((3, 1), (3, 2), [(3, 1), (3, 2)]),
        ((0, 2), (3, 2), [(0, 2), (1, 2), (2, 2), (3, 2)]),
        ((1, 1), (1, 1), [(1, 1)]),
    ],
)
def test_routes_go_along_the_row_first(src: tuple, dst: tuple, path: list) -> None:
    assert Mesh(E16).router_path(src, dst) == path


def test_next_hops_of_one_router_on_e16() -> None:
    """Router (1, 2) of the 4x4 E16 (eLink on the east), worked by hand: a core of a column to
    its west is west of it, one of a column to its east east (the row first); in its own column,
    north above it, south below, local itself; the host east, toward the eLink's side."""
    mesh = Mesh(E16)
    east, west, south, north, local, off = range(6)
    by_column = {0: west, 1: west, 3: east}
    expected = [by_column.get(c, north if r < 1 else south if r > 1 else local) for r in range(4) for c in range(4)]
    assert mesh.next_hops[mesh.index_of((1, 2))].tolist() == [*expected, east]
    assert mesh.next_hops[mesh.index_of((1, 3)), 16] == off  # the edge router leaves the chip


@pytest.mark.parametrize("side", ["east", "west", "north", "south"])
def test_the_way_to_the_host_ends_at_the_edge_router_of_each_core(side: str) -> None:
    mesh = Mesh(E16.replace(elink_side=side))
    for index in range(16):
        core = mesh.coord_of(index)
        path = mesh.router_path(core, HOST)
        assert path[-1] == mesh.edge_router(core)
        assert len(path) - 1 == mesh.hops(core, mesh.edge_router(core))


def test_route_link_names_row_first_with_ports() -> None:
    mesh = Mesh(E16)
    names = [mesh.links[i].name for i in mesh.route((0, 0), (2, 3))]
    assert names == [
        "inject:c0,0->r0,0",
        "cmesh:r0,0->r0,1",
        "cmesh:r0,1->r0,2",
        "cmesh:r0,2->r0,3",
        "cmesh:r0,3->r1,3",
        "cmesh:r1,3->r2,3",
        "eject:r2,3->c2,3",
    ]


def test_hops_are_manhattan_distances(manhattan: Callable[[tuple, tuple], int]) -> None:
    mesh = Mesh(E16)
    for a, b in itertools.product([mesh.coord_of(i) for i in range(16)], repeat=2):
        assert mesh.hops(a, b) == manhattan(a, b)
        assert len(mesh.router_path(a, b)) == manhattan(a, b) + 1


def test_host_traffic_crosses_the_mesh_to_the_elink_edge() -> None:
    east = Mesh(E16)
    assert [east.links[i].name for i in east.route(HOST, (2, 1))] == [
        "elink-in:host->elink",
        "xedge-in:elink->r2,3",
        "xmesh:r2,3->r2,2",
        "xmesh:r2,2->r2,1",
        "xeject:r2,1->c2,1",
    ]
    assert [east.links[i].name for i in east.route((1, 0), HOST)] == [
        "xinject:c1,0->r1,0",
        "xmesh:r1,0->r1,1",
        "xmesh:r1,1->r1,2",
        "xmesh:r1,2->r1,3",
        "xedge-out:r1,3->elink",
        "elink-out:elink->host",
    ]
    assert [east.links[i].name for i in east.route((1, 2), HOST, "r")] == [
        "rinject:c1,2->r1,2",
        "rmesh:r1,2->r1,3",
        "redge-out:r1,3->elink",
        "elink-rout:elink->host",
    ]
    south = Mesh(E16.replace(elink_side="south"))
    assert [south.links[i].name for i in south.route((1, 2), HOST)] == [
        "xinject:c1,2->r1,2",
        "xmesh:r1,2->r2,2",
        "xmesh:r2,2->r3,2",
        "xedge-out:r3,2->elink",
        "elink-out:elink->host",
    ]


def test_graph_has_every_directed_mesh_link_and_manhattan_distances() -> None:
    mesh = Mesh(E16)
    graph = mesh.graph
    cmesh = [e for e in graph.edges(data=True) if e[2]["kind"] == "cmesh"]
    assert len(cmesh) == 2 * (4 * 3) * 2  # 12 neighbour pairs per direction of travel, both ways
    assert nx.shortest_path_length(graph, router((0, 0)), router((3, 2))) == 5


def test_neighbour_chain_is_a_snake_of_neighbours(manhattan: Callable[[tuple, tuple], int]) -> None:
    chain = Mesh(E16).neighbour_chain()
    assert sorted(chain) == [(r, c) for r in range(4) for c in range(4)]
    assert all(manhattan(a, b) == 1 for a, b in itertools.pairwise(chain))


def test_chain_in_columns_is_a_snake_down_and_up_the_columns() -> None:
    chain = Mesh(E16).neighbour_chain("columns")
    assert chain[:8] == [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1), (2, 1), (1, 1), (0, 1)]
    assert sorted(chain) == [(r, c) for r in range(4) for c in range(4)]


@pytest.mark.parametrize("chip", ["e16", "e64"])
def test_hilbert_chain_fills_squares_first(chip: str, manhattan: Callable[[tuple, tuple], int]) -> None:
    """Every prefix of 4**k cores of a Hilbert curve covers a 2**k by 2**k square, and steps go to neighbours."""
    mesh = Mesh(chip_from_name(chip))
    chain = mesh.neighbour_chain("hilbert")
    assert sorted(chain) == [(r, c) for r in range(mesh.rows) for c in range(mesh.cols)]
    assert all(manhattan(a, b) == 1 for a, b in itertools.pairwise(chain))
    side = 1
    while side <= mesh.rows:
        square = chain[: side * side]
        rows, cols = {r for r, _ in square}, {c for _, c in square}
        assert len(rows) == len(cols) == side
        side *= 2


def test_every_order_skips_avoided_cores_and_an_unknown_order_is_refused() -> None:
    mesh = Mesh(E16.replace(avoid_cores=[(1, 1), (0, 3)]))
    for order in ("rows", "columns", "hilbert"):
        chain = mesh.neighbour_chain(order)
        assert len(chain) == 14
        assert (1, 1) not in chain
        assert (0, 3) not in chain
    with pytest.raises(ValueError, match="unknown chain order 'spiral'"):
        mesh.neighbour_chain("spiral")


def test_hilbert_chain_of_a_mesh_that_is_not_a_power_of_two_square() -> None:
    """2x3: the curve of the 4x4 square that holds it (e16's), the cells outside the mesh left out."""
    chain = Mesh(chip_from_name("2x3")).neighbour_chain("hilbert")
    assert chain == [(r, c) for r, c in Mesh(E16).neighbour_chain("hilbert") if r < 2 and c < 3]
