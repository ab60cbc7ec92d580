"""The interconnect: buffered routers on three meshes and the eLink, as one compiled fabric.

Model (Epiphany Architecture Reference, section on the eMesh network-on-chip). Every write
is split into transactions of up to 8 bytes. Each transaction moves hop by hop: a router
has a FIFO of ``router_fifo_depth`` transactions per input port, routes along the row first
and then along the column, and gives each output to one input at a time, round-robin among
the inputs whose head transaction wants it. An output carries one transaction per
``cycles per transaction`` of its link (one per cycle on the cMesh) and only when the FIFO
it feeds has room, so a full FIFO pushes back on the routers behind it (back-pressure), and
a head transaction that cannot move blocks those behind it in its FIFO (head-of-line
blocking). The cMesh carries writes between cores, the rMesh read requests (one per
``rmesh_cycles_per_request``), the xMesh writes that cross the chip boundary either way.
The eLink has a write path and a read-request path each way, a byte a cycle. A write
transaction that continues a burst (the previous write on its path came from the same
endpoint to the doubleword before) takes ``elink_write_cycles_per_transaction`` on it (its
8 bytes and its framing); any other write takes ``elink_write_packet_cycles``, its whole
packet with its address. A read request takes ``elink_read_cycles_per_request``, or
``elink_read_burst_cycles_per_request`` if it continues a burst the same way. So a DMA
stream alone keeps its burst, and streams from several cores that take turns on the
eLink pay the packet on nearly every transaction. A read request that reaches its target
is answered by a write of the values back to the requester (from the DRAM, after
``dram_latency_cycles``).

A lone message of ``n`` transactions crossing ``h`` router-to-router hops arrives

- core to core: ``h * hop_latency_cycles + n * cmesh_cycles_per_transaction`` after it
  is posted (plus ``write_overhead_cycles``);
- core to host: ``h * hop + 0.5 + e + elink_latency_cycles`` (the half cycle hands the
  transaction from the edge router to the eLink);
- host to core: ``e + elink_latency_cycles + h * hop + xmesh_cycles_per_transaction``: a
  transaction enters the mesh once all of it has crossed the eLink;

where ``e = elink_write_packet_cycles + (n - 1) * elink_write_cycles_per_transaction``,
its first transaction a whole packet and the others a burst (``n *
elink_write_cycles_per_transaction`` if its first continues the burst of the message
before it, from the same endpoint to the doubleword before).

Time. The fabric counts ticks of half a cycle (``TICKS_PER_CYCLE``), the grain at which
every hop of 1.5 cycles is exact; every timing field of the chip must be a multiple of it.
Cores and the host stay simpy processes; ``FabricEnvironment`` (``epiphany_sim.clock``)
advances the fabric between their events. A message posted at cycle ``c`` enters the fabric
at tick ``ceil(2c)``; anything the fabric does that a process waits for (a buffer reaching a
write count, a blocking write leaving its core, a message with a callback arriving) becomes
a simpy event at its tick. Everything else, relays included, stays inside the compiled loop.

Data really travels: a message's values are copied when it is posted and land in the
destination's memory (one flat float32 image of every SRAM, the DRAM and, past them, one
load area per endpoint where the values of its own loads land) when each of its
transactions arrives, counted in the destination buffer's write count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from epiphany_sim import fabric_kernel as k
from epiphany_sim import progress
from epiphany_sim.config import TICKS_PER_CYCLE, ChipConfig
from epiphany_sim.errors import DeadlockError, MemoryAccessError, SimError
from epiphany_sim.mesh import DIRECTIONS, ELINK, HOST, LOCAL, OFF, STEPS, Coord, Mesh, core_node, router

_DIRS = {step: direction for direction, step in STEPS.items()}
"""A mesh router's output toward each neighbour, by the step to it."""
_NETS = ((k.NET_C, ""), (k.NET_R, "r"), (k.NET_X, "x"))
_PREFIXES = dict(_NETS)
"""The prefix of each mesh's link kinds, by its net."""
_ELINK_ENDS = {k.NET_ELINK_IN: "x", k.NET_ELINK_IN_R: "r", k.NET_ELINK_OUT: "x", k.NET_ELINK_OUT_R: "r"}
"""The eLink's ends, writes and read requests coming in, then going out, and the path (``"x"``
writes, ``"r"`` read requests) each carries."""
_ELINK_INCOMING = (k.NET_ELINK_IN, k.NET_ELINK_IN_R)
_GROW = 2
LOAD_WORDS = 4096
"""Words of each endpoint's load area, where the values of its own loads land."""


def ticks(cycles: float) -> int:
    """Whole ticks in ``cycles`` (the chip config guarantees they are whole)."""
    return round(cycles * TICKS_PER_CYCLE)


@dataclass(slots=True)
class Transfer:
    """One message as the fabric carried it (kept when the chip records transfers).

    Attributes:
        serial: the message's number, in the order messages were posted.
        src: sending node (a core coordinate or ``HOST``).
        dst: receiving node.
        n_bytes: payload.
        sent_at: cycle the message entered its source's queue.
        injected_at: cycle its last transaction had left the source's port.
        delivered_at: cycle its last transaction arrived.
        hops: router-to-router links its transactions crossed.
        zero_load_cycles: its latency on an idle chip.
        label: what it carries.
        link_spans: ``(link index, start, end)`` for each transaction on each link, when traced,
            by start and then link.
    """

    serial: int
    src: tuple
    dst: tuple
    n_bytes: int
    sent_at: float
    injected_at: float
    delivered_at: float
    hops: int
    zero_load_cycles: float
    label: str = ""
    link_spans: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def latency_cycles(self) -> float:
        return self.delivered_at - self.sent_at

    @property
    def wait_cycles(self) -> float:
        """Cycles beyond the zero-load latency: time spent waiting for links and FIFOs."""
        return self.latency_cycles - self.zero_load_cycles


class Link:
    """One directed link's counters, read from the fabric.

    Attributes:
        index: position in ``Fabric.links`` (and ``Mesh.links``).
        name: ``kind:from->to``.
        kind: one of ``epiphany_sim.mesh.KINDS``.
    """

    __slots__ = ("index", "name", "kind", "_row")

    def __init__(self, index: int, name: str, kind: str, row: np.ndarray) -> None:
        self.index = index
        self.name = name
        self.kind = kind
        self._row = row

    @property
    def transactions(self) -> int:
        """Transactions that crossed the link."""
        return int(self._row[k.L_TRANSACTIONS])

    @property
    def bytes(self) -> int:
        """Payload bytes that crossed the link."""
        return int(self._row[k.L_BYTES])

    @property
    def transfers(self) -> int:
        """Messages whose first transaction crossed the link."""
        return int(self._row[k.L_MSGS])

    @property
    def busy_cycles(self) -> float:
        """Cycles the link carried a transaction."""
        return self._row[k.L_BUSY] / TICKS_PER_CYCLE

    @property
    def wait_cycles(self) -> float:
        """Cycles transactions spent in the FIFO that feeds the link, from their arrival there
        until the link took them (queueing behind others, losing arbitration, back-pressure)."""
        return self._row[k.L_WAIT] / TICKS_PER_CYCLE

    @property
    def max_wait_cycles(self) -> float:
        """The longest such wait of one transaction."""
        return self._row[k.L_MAX_WAIT] / TICKS_PER_CYCLE


@dataclass(frozen=True)
class TraceOptions:
    """What a traced fabric keeps of its links' activity.

    Attributes:
        window: ``(start, end)`` cycles within which every transaction on every link is kept
            as a span (``None``: no spans).
        bin_cycles: width of the bins in which each link's busy cycles are summed over the
            whole run (0: no bins).
    """

    window: tuple[float, float] | None = (0.0, math.inf)
    bin_cycles: float = 0.0


class _Layout:
    """The routers of a chip's three meshes and of the eLink's ends, their inputs and outputs,
    and the endpoints' ports into them, as the compiled loop's tables.

    Routers are numbered mesh by mesh (cMesh, rMesh, xMesh; each by core index), then the
    eLink's ends in the order of ``_ELINK_ENDS``. A router's inputs are the consecutive rows
    ``R_IN0:R_IN1`` of ``inputs``, its outputs the rows ``R_OUT0:R_OUT1`` of ``outputs``.
    ``routes`` gives the output each router sends a transaction for each endpoint by, from
    ``Mesh.next_hops``.

    Attributes:
        hop: ticks of a router-to-router hop.
        rates: ticks per transaction on the cMesh, rMesh and xMesh (``"c"``, ``"r"``, ``"x"``).
        elink: ticks per write (``"x"``) and per read request (``"r"``) on the eLink when it
            continues a burst.
        elink_packet: the same when it does not: a whole packet, address included.
        elink_latency: ticks across the eLink.
        edges: the routers on the eLink's edge, through which traffic leaves and enters the chip.
        ends: the router index of each of the eLink's ends, by its net.
        routers: the ``R_*`` table.
        directions: each router's output in each of ``mesh.DIRECTIONS`` (-1: none).
        inputs: the ``I_*`` table.
        outputs: the ``O_*`` table.
        endpoints: the ``E_*`` table (each core, then the host).
        ports: the ``P_*`` table of each endpoint.
        routes: the output each router sends a transaction for each endpoint by.
    """

    def __init__(self, chip: ChipConfig, mesh: Mesh) -> None:
        self.mesh = mesh
        self.n_cores = chip.n_cores
        self.cols = chip.cols
        self.hop = ticks(chip.hop_latency_cycles)
        self.rates = {
            "c": ticks(chip.cmesh_cycles_per_transaction),
            "r": ticks(chip.rmesh_cycles_per_request),
            "x": ticks(chip.xmesh_cycles_per_transaction),
        }
        self.elink = {
            "x": ticks(chip.elink_write_cycles_per_transaction),
            "r": ticks(chip.elink_read_burst_cycles_per_request),
        }
        self.elink_packet = {
            "x": ticks(chip.elink_write_packet_cycles),
            "r": ticks(chip.elink_read_cycles_per_request),
        }
        self.elink_latency = ticks(chip.elink_latency_cycles)
        self.edges = [(r, c) for r in range(chip.rows) for c in range(chip.cols) if mesh.edge_router((r, c)) == (r, c)]
        self.ends = {net: 3 * self.n_cores + j for j, net in enumerate(_ELINK_ENDS)}
        self.routers = self._router_table()
        self.directions = np.full((len(self.routers), len(DIRECTIONS)), -1, np.int64)
        self._input_of: dict[tuple[int, Any], int] = {}
        self._in_rows: list[list[int]] = []
        self._out_rows: list[list[int]] = []
        for rid in range(len(self.routers)):
            self._add_inputs(rid)
        for rid in range(len(self.routers)):
            self._add_outputs(rid)
        self.outputs = np.array(self._out_rows, np.int64)
        self.inputs = self._input_table()
        self.endpoints = self._endpoint_table()
        self.ports = self._port_table()
        self.routes = self._route_table()

    @property
    def host(self) -> int:
        """The host's endpoint index, past every core's."""
        return self.n_cores

    def mesh_router(self, net: int, coord: Coord) -> int:
        """The index of the router of mesh ``net`` at ``coord``."""
        return net * self.n_cores + coord[0] * self.cols + coord[1]

    def _coord(self, rid: int) -> Coord:
        """The place of mesh router ``rid``."""
        return divmod(rid % self.n_cores, self.cols)

    def _mesh_rate(self, net: int) -> int:
        return self.rates[_PREFIXES[net] or "c"]

    def _reaches_elink(self, net: int, coord: Coord) -> bool:
        """Whether the router of mesh ``net`` at ``coord`` is linked to the eLink: the rMesh's and
        the xMesh's edge routers are."""
        return net != k.NET_C and coord in self.edges

    def _router_table(self) -> np.ndarray:
        """Every router, idle, with its net."""
        routers = np.zeros((3 * self.n_cores + len(_ELINK_ENDS), k.R_FIELDS), np.int64)
        routers[:, k.R_STAMP] = -1
        routers[:, k.R_NEXT] = k.NEVER
        for net, _ in _NETS:
            routers[net * self.n_cores : (net + 1) * self.n_cores, k.R_NET] = net
        for net, rid in self.ends.items():
            routers[rid, k.R_NET] = net
        return routers

    # Inputs -----------------------------------------------------------------------
    def _add_inputs(self, rid: int) -> None:
        """The input FIFOs of router ``rid``: a mesh router's from its core, from each neighbour
        and, if it reaches the eLink, from the eLink; an incoming eLink end's from the host; an
        outgoing end's from each edge router."""
        net = int(self.routers[rid, k.R_NET])
        self.routers[rid, k.R_IN0] = len(self._in_rows)
        if net in _PREFIXES:
            coord = self._coord(rid)
            upstreams: list[Any] = ["core", *self.mesh.neighbours(coord)]
            if self._reaches_elink(net, coord):
                upstreams.append("elink")
            for upstream in upstreams:
                self._add_input(rid, upstream, self._mesh_rate(net))
        elif net in _ELINK_INCOMING:
            self._add_input(rid, "host", self.elink[_ELINK_ENDS[net]])  # at most one per burst's ticks
        else:
            for coord in self.edges:
                self._add_input(rid, coord, self.rates[_ELINK_ENDS[net]])
        self.routers[rid, k.R_IN1] = len(self._in_rows)

    def _add_input(self, rid: int, upstream: Any, rate: int) -> None:
        """An input of router ``rid`` fed by ``upstream`` (a neighbour's coordinate, ``"core"``,
        ``"elink"`` or ``"host"``), which frees a FIFO slot once per ``rate`` ticks."""
        self._input_of[(rid, upstream)] = len(self._in_rows)
        self._in_rows.append([rid, rate])

    def _input_table(self) -> np.ndarray:
        """The ``I_*`` table, each input knowing the router that feeds it (-1 where a core or the
        host feeds it)."""
        inputs = np.zeros((len(self._in_rows), k.I_FIELDS), np.int64)
        inputs[:, [k.I_ROUTER, k.I_RATE]] = np.array(self._in_rows, np.int64)
        inputs[:, [k.I_POPPED, k.I_UP_ROUTER, k.I_UP_ENDPOINT]] = -1
        fed = self.outputs[:, k.O_DEST] >= 0
        inputs[self.outputs[fed, k.O_DEST], k.I_UP_ROUTER] = self.outputs[fed, k.O_ROUTER]
        return inputs

    # Outputs ----------------------------------------------------------------------
    def _add_outputs(self, rid: int) -> None:
        """The outputs of router ``rid``, by the kind of router it is."""
        net = int(self.routers[rid, k.R_NET])
        self.routers[rid, k.R_OUT0] = len(self._out_rows)
        if net in _PREFIXES:
            self._add_mesh_outputs(rid, net)
        elif net in _ELINK_INCOMING:
            self._add_incoming_elink_outputs(rid, net)
        else:
            self._add_outgoing_elink_output(rid, net)
        self.routers[rid, k.R_OUT1] = len(self._out_rows)

    def _add_output(
        self, rid: int, direction: int, dest: int, sink: int, latency: int, rate: int, link: int, hops: int
    ) -> None:
        """An output of router ``rid``: in ``direction`` (-1: none, chosen by destination instead),
        into input ``dest`` or else out to endpoint ``sink``, arriving ``latency`` ticks after it
        starts, one transaction per ``rate`` ticks, over ``link``, counting ``hops`` router hops."""
        if direction >= 0:
            self.directions[rid, direction] = len(self._out_rows)
        self._out_rows.append([rid, dest, sink, latency, rate, link, hops, 0, -1])

    def _add_mesh_outputs(self, rid: int, net: int) -> None:
        """A mesh router's outputs: to each neighbour, to its core and, if it reaches the eLink,
        to the eLink's outgoing end on its path (half a cycle from the edge router)."""
        coord = self._coord(rid)
        prefix, rate = _PREFIXES[net], self._mesh_rate(net)
        for other in self.mesh.neighbours(coord):
            direction = _DIRS[(other[0] - coord[0], other[1] - coord[1])]
            dest = self._input_of[(self.mesh_router(net, other), coord)]
            link = self.mesh.link((prefix or "c") + "mesh", router(coord), router(other))
            self._add_output(rid, direction, dest, -1, self.hop, rate, link, 1)
        eject = self.mesh.link(prefix + "eject", router(coord), core_node(coord))
        self._add_output(rid, LOCAL, -1, coord[0] * self.cols + coord[1], 0, rate, eject, 0)
        if self._reaches_elink(net, coord):
            end = self.ends[k.NET_ELINK_OUT if net == k.NET_X else k.NET_ELINK_OUT_R]
            link = self.mesh.link(prefix + "edge-out", router(coord), ELINK)
            self._add_output(rid, OFF, self._input_of[(end, coord)], -1, 1, rate, link, 0)

    def _add_incoming_elink_outputs(self, rid: int, net: int) -> None:
        """An incoming eLink end's outputs, one to each edge router of the mesh its path feeds. The
        end's FIFO is at the far side of the eLink: a transaction is ready there in the last tick of
        its crossing (the host's port holds it for its ticks on the eLink), which the hand-off to
        the edge router takes, so that it enters the mesh once all of it has crossed."""
        path = _ELINK_ENDS[net]
        into = k.NET_X if path == "x" else k.NET_R
        for coord in self.edges:
            dest = self._input_of[(self.mesh_router(into, coord), "elink")]
            link = self.mesh.link(path + "edge-in", ELINK, router(coord))
            self._add_output(rid, -1, dest, -1, self.elink_latency + 1, self.rates[path], link, 0)

    def _add_outgoing_elink_output(self, rid: int, net: int) -> None:
        """An outgoing eLink end's one output, to the host. The loop holds it for a burst's or a
        whole packet's ticks per transaction (``elink_table``); its rate here is the longer."""
        link = self.mesh.elink_out if net == k.NET_ELINK_OUT else self.mesh.elink_rout
        rate = self.elink_packet[_ELINK_ENDS[net]]
        self._add_output(rid, LOCAL, -1, self.host, self.elink_latency, rate, link, 0)

    # Endpoints and ports ----------------------------------------------------------
    def _endpoint_table(self) -> np.ndarray:
        """The ``E_*`` table, nothing queued."""
        endpoints = np.zeros((self.n_cores + 1, k.E_FIELDS), np.int64)
        endpoints[:, [k.E_DMA_HEAD, k.E_DMA_TAIL]] = -1
        endpoints[:, k.E_NEXT] = k.NEVER
        endpoints[:, k.E_STAMP] = -1
        return endpoints

    def _route_table(self) -> np.ndarray:
        """The output each router sends a transaction for each endpoint by (-1: none). A mesh router
        takes the output ``Mesh.next_hops`` names; the eLink's incoming ends hand a transaction to
        the edge router its destination's traffic with the host crosses (``Mesh.edge_router``); its
        outgoing ends have one output, to the host."""
        routes = np.full((len(self.routers), self.n_cores + 1), -1, np.int32)
        hops = self.mesh.next_hops.astype(np.intp)
        for net, _ in _NETS:
            rows = slice(net * self.n_cores, (net + 1) * self.n_cores)
            routes[rows] = np.take_along_axis(self.directions[rows], hops, axis=1)
        edge = [self.edges.index(self.mesh.edge_router(divmod(index, self.cols))) for index in range(self.n_cores)]
        for net in _ELINK_INCOMING:
            routes[self.ends[net], : self.n_cores] = self.routers[self.ends[net], k.R_OUT0] + np.array(edge)
        for net in (k.NET_ELINK_OUT, k.NET_ELINK_OUT_R):
            routes[self.ends[net]] = self.directions[self.ends[net], LOCAL]
        return routes

    def _port_table(self) -> np.ndarray:
        """The ``P_*`` table: a core's port on each mesh into its router there, the host's write and
        read-request ports into the eLink's incoming ends."""
        ports = np.zeros((self.n_cores + 1, k.N_PORTS, k.P_FIELDS), np.int64)
        ports[:, :, k.P_FIFO] = -1
        for index in range(self.n_cores):
            coord = divmod(index, self.cols)
            for port, (net, prefix) in zip((k.PORT_C, k.PORT_R, k.PORT_X), _NETS, strict=True):
                fifo = self._input_of[(self.mesh_router(net, coord), "core")]
                link = self.mesh.link(prefix + "inject", core_node(coord), router(coord))
                ports[index, port, [k.P_FIFO, k.P_RATE, k.P_LINK]] = (fifo, self._mesh_rate(net), link)
                self.inputs[fifo, k.I_UP_ENDPOINT] = index
        for port, net, link in (
            (k.PORT_C, k.NET_ELINK_IN, self.mesh.elink_in),
            (k.PORT_R, k.NET_ELINK_IN_R, self.mesh.elink_rin),
        ):
            fifo = self._input_of[(self.ends[net], "host")]
            rate = self.elink_packet[_ELINK_ENDS[net]]  # the longer of a burst's and a packet's, as above
            ports[self.host, port, [k.P_FIFO, k.P_RATE, k.P_LINK]] = (fifo, rate, link)
            self.inputs[fifo, k.I_UP_ENDPOINT] = self.host
        return ports

    def elink_table(self) -> np.ndarray:
        """The ``EL_*`` table: each path of the eLink, in the order of its ends' nets, with no
        transaction carried yet and its ticks per transaction in a burst and out of one."""
        table = np.zeros((len(_ELINK_ENDS), k.EL_FIELDS), np.int64)
        for net, path in _ELINK_ENDS.items():
            table[net - k.NET_ELINK_IN] = (-1, -1, self.elink[path], self.elink_packet[path])
        return table


class Fabric:
    """Every router, FIFO and link of a chip, and the messages moving through them.

    Args:
        chip: the hardware.
        mesh: its topology.
        memory_words: size of the flat memory image (every SRAM, then the DRAM window, then a
            load area per endpoint).
        record: keep a ``Transfer`` per message (for statistics of every message).
        trace: what to keep of the links' activity (``None``: nothing but the counters).
    """

    def __init__(
        self, chip: ChipConfig, mesh: Mesh, memory_words: int, record: bool = False, trace: TraceOptions | None = None
    ) -> None:
        self.chip = chip
        self.mesh = mesh
        self.n_cores = chip.n_cores
        self.host = self.n_cores
        link_counts = np.zeros((len(mesh.links), k.L_FIELDS), np.int64)
        self.links = [
            Link(spec.index, spec.name, spec.kind, row) for spec, row in zip(mesh.links, link_counts, strict=True)
        ]
        self.memory = np.empty(memory_words, np.float32)
        self._args: tuple | None = None
        self._build()
        self.record = record or trace is not None
        self.trace = trace
        self._state[k.S_RECORD] = int(self.record)
        self._state[k.S_TRACE_FROM] = self._state[k.S_TRACE_TO] = 0
        if trace is not None and trace.window is not None:
            start, end = trace.window
            self._state[k.S_TRACE_FROM] = ticks(start)
            self._state[k.S_TRACE_TO] = k.NEVER if math.isinf(end) else math.ceil(end * TICKS_PER_CYCLE)
        self._state[k.S_BIN_TICKS] = ticks(trace.bin_cycles) if trace is not None and trace.bin_cycles else 0
        self._messages = k.Messages(
            np.full((0, k.M_FIELDS), -1, np.int64), np.zeros(0, np.int64), np.zeros(1024, np.float32)
        )
        self._grow_messages(1024)
        self._pay_top = 0
        self._log = k.Log(
            link_counts,
            np.zeros((1024 if self.record else 1, k.C_FIELDS), np.int64),
            np.zeros((4096 if self._state[k.S_TRACE_TO] else 1, k.SP_FIELDS), np.int64),
            np.zeros((len(self.links), 256 if self._state[k.S_BIN_TICKS] else 1), np.int64),
        )
        self._memory = k.Memory(self.memory, np.zeros((64, k.B_FIELDS), np.int64), np.zeros((1, 3), np.int64))
        self._n_bufs = 0
        self._buf_names: list[str] = []
        self._buffer_base: list[int] = []
        self._endpoint_of: dict[tuple, int] = {HOST: self.host}
        self._endpoint_of.update({mesh.coord_of(e): e for e in range(self.n_cores)})
        self._overhead = ticks(chip.write_overhead_cycles)
        self._rules: dict[int, list[tuple[int, int, int]]] = {}
        self._rules_stale = False
        self._on_done: dict[int, Callable[[], Any]] = {}
        self._on_sent: dict[int, Callable[[], Any]] = {}
        self._tokens = 0
        self.buffers: list[Any] = []
        """The ``memory.Buffer`` of each buffer id, which ``react`` wakes."""
        self._labels: dict[int, str] = {}
        self._zero_load: dict[int, float] = {}

    # Topology -------------------------------------------------------------------
    def _build(self) -> None:
        """Lay out the interconnect as the compiled loop's tables, each idle."""
        layout = _Layout(self.chip, self.mesh)
        fifo = np.zeros((len(layout.inputs), self.chip.router_fifo_depth, k.Q_FIELDS), np.int64)
        want = np.zeros(int(np.max(layout.routers[:, k.R_IN1] - layout.routers[:, k.R_IN0])), np.int64)
        self._network = k.Network(
            layout.routers, layout.inputs, fifo, layout.outputs, layout.routes, layout.elink_table(), want
        )
        self._ends = k.Ends(layout.endpoints, layout.ports, self._source_table())
        self._endpoint_words = layout.endpoints.reshape(-1).data  # the same memory, read a field at a time
        self._build_schedule()
        self._build_state()
        self._hop_ticks, self._rates = layout.hop, layout.rates
        self._elink, self._elink_packet, self._elink_latency = layout.elink, layout.elink_packet, layout.elink_latency

    def _source_table(self) -> np.ndarray:
        """Each endpoint's source queues, empty: its own stores (a core's copy out of its SRAM, one
        transaction per ``copy_cycles_per_transaction``; the host's writes through its library,
        one per ``host_sram_write_cycles_per_transaction``), each DMA channel (one transaction
        per ``dma_cycles_per_transaction``, up to ``dma_outstanding_reads`` reads in flight) and
        its replies to reads."""
        chip = self.chip
        n_sources = 1 + chip.dma_channels + 1
        sources = np.zeros((self.n_cores + 1, n_sources, k.SRC_FIELDS), np.int64)
        sources[:, :, [k.SRC_HEAD, k.SRC_TAIL]] = -1
        sources[: self.n_cores, 0, k.SRC_RATE] = ticks(chip.copy_cycles_per_transaction)
        sources[self.host, 0, k.SRC_RATE] = ticks(chip.host_sram_write_cycles_per_transaction)
        sources[:, 1:-1, k.SRC_RATE] = ticks(chip.dma_cycles_per_transaction)
        sources[:, :, k.SRC_BOUND] = (1, *[chip.dma_outstanding_reads] * chip.dma_channels, 1)
        return sources

    def _build_schedule(self) -> None:
        """The time wheel, with room in a tick for every sink output and every port and a turn
        longer than anything a link or port holds a transaction; the wakes of a tick; the heaps of
        active routers and endpoints."""
        n_endpoints = self.n_cores + 1
        outputs, ports = self._network.outputs, self._ends.ports
        sinks = int(np.count_nonzero(outputs[:, k.O_DEST] < 0))
        per_tick = sinks + k.N_PORTS * n_endpoints
        longest = int(max(outputs[:, k.O_RATE].max() + outputs[:, k.O_LATENCY].max(), ports[:, :, k.P_RATE].max()))
        size = 1 << max(1, (longest + 1).bit_length())
        self._events = k.Events(
            np.zeros((size, per_tick, k.W_FIELDS), np.int64),
            np.zeros(size, np.int64),
            np.zeros((2 * per_tick, 2), np.int64),
        )
        n_routers = len(self._network.routers)
        # Room for an entry per router (endpoint) and as many made stale; a full heap drops its stale ones.
        # Each tick's bucket has room for every row once; a fuller one sends the rest to the heap.
        self._due = k.Due(
            np.zeros((2 * n_routers + 64, k.H_FIELDS), np.int64),
            np.zeros((2 * n_endpoints + 64, k.H_FIELDS), np.int64),
            np.zeros(max(n_routers, n_endpoints), np.int64),
            np.zeros((k.DUE_TICKS, n_routers), np.int64),
            np.zeros(k.DUE_TICKS, np.int64),
            np.zeros((k.DUE_TICKS, n_endpoints), np.int64),
            np.zeros(k.DUE_TICKS, np.int64),
        )

    def _build_state(self) -> None:
        """The loop's scalar state at tick 0."""
        chip = self.chip
        state = np.zeros(k.S_FIELDS, np.int64)
        state[k.S_DEPTH] = chip.router_fifo_depth
        state[k.S_HOST] = self.host
        state[k.S_WMASK] = len(self._events.wheel) - 1
        state[k.S_DRAM_TICKS] = ticks(chip.dram_latency_cycles)
        state[k.S_POLL_TICKS] = ticks(chip.poll_cycles)
        state[k.S_TAKEN_R] = state[k.S_TAKEN_E] = -1
        self._state = state
        self._view = state.data  # a memoryview: fast reads of single fields from Python
        if k.needs_compiling():  # the first post or advance compiles the loop, for tens of seconds
            progress.compiling()

    def _replace(self, **records: Any) -> None:
        """Put new records (with a table grown or rebuilt) in place of the old ones."""
        for name, record in records.items():
            setattr(self, name, record)
        self._args = None

    def _post_args(self) -> tuple:
        """The records the posting entry points take: the endpoints, the messages, the due sets."""
        _, ends, messages, _, due, _, _ = self._kernel_args()
        return ends, messages, due

    def _kernel_args(self) -> tuple:
        """The records as the loop's entry points take them, plain tuples (kept until a record is
        replaced: numba types a plain tuple of arrays in C, faster than a named one)."""
        if self._args is None:
            self._args = tuple(
                tuple(record)
                for record in (
                    self._network,
                    self._ends,
                    self._messages,
                    self._events,
                    self._due,
                    self._memory,
                    self._log,
                )
            )
        return self._args

    # Tables that grow ---------------------------------------------------------------
    def _grow_messages(self, at_least: int) -> None:
        old = len(self._messages.msgs)
        size = max(at_least, _GROW * old)
        msgs = np.empty((size, k.M_FIELDS), np.int64)
        msgs[:old] = self._messages.msgs
        msgs[old:, [k.M_PAY, k.M_TRANSACTIONS, k.M_DONE, k.M_SRC]] = (-1, 0, 0, -1)  # free rows: nothing in flight
        free = np.zeros(size, np.int64)
        top = int(self._state[k.S_FREE])
        free[:top] = self._messages.free[:top]
        free[top : top + size - old] = np.arange(size - 1, old - 1, -1)
        self._replace(_messages=self._messages._replace(msgs=msgs, free=free))
        self._state[k.S_FREE] = top + size - old

    def _grow_for_kernel(self) -> None:
        state = self._state
        bound = self._events.wheel.shape[1]
        if state[k.S_FREE] < bound * (state[k.S_MAX_RULES] + 1):
            self._grow_messages(len(self._messages.msgs) + bound * (int(state[k.S_MAX_RULES]) + 1))
        if self.record and len(self._log.recs) - state[k.S_RECS] < bound:
            self._grow_records(len(self._log.recs) + bound)
        spare = len(self._network.outputs) + k.N_PORTS * len(self._ends.endpoints)
        spans, bins = self._log.spans, self._log.bins
        if state[k.S_TRACE_TO] > state[k.S_TRACE_FROM] and len(spans) - state[k.S_SPANS] < spare:
            spans = np.concatenate([spans, np.zeros((max(len(spans), spare), k.SP_FIELDS), np.int64)])
        width = state[k.S_BIN_TICKS]
        if width and (state[k.S_TICK] + 64 * width) // width >= bins.shape[1]:
            bins = np.concatenate([bins, np.zeros((len(self.links), bins.shape[1] + 64), np.int64)], axis=1)
        self._replace(_log=self._log._replace(spans=spans, bins=bins))

    def reserve_records(self, messages: int) -> None:
        """Make room at once for the records of ``messages`` more messages (when their number
        is known in advance), instead of growing the table as they complete."""
        self._grow_records(int(self._state[k.S_RECS]) + messages + self._events.wheel.shape[1])

    def _grow_records(self, at_least: int) -> None:
        old = self._log.recs
        if len(old) < at_least:
            recs = np.empty((max(at_least, _GROW * len(old)), k.C_FIELDS), np.int64)
            recs[: len(old)] = old
            self._replace(_log=self._log._replace(recs=recs))

    def record_transfers(self) -> None:
        """Keep a ``Transfer`` per message from now on (for a fabric that has carried nothing yet)."""
        if self.messages_sent:
            raise SimError("a fabric keeps records of every message or of none: switch them on before the first")
        self.record = True
        self._state[k.S_RECORD] = 1

    # Buffers and relays -------------------------------------------------------------
    def add_buffer(self, name: str, base_word: int, n_words: int) -> int:
        """Register a buffer at ``base_word`` of the memory image; return its id."""
        bufs = self._memory.bufs
        if self._n_bufs == len(bufs):
            self._replace(_memory=self._memory._replace(bufs=np.concatenate([bufs, np.zeros_like(bufs)])))
        b = self._n_bufs
        self._memory.bufs[b] = (base_word, 0, k.NEVER, 0, 0)
        self._buffer_base.append(base_word)
        self._n_bufs += 1
        self._buf_names.append(name)
        self._rules_stale = True
        return b

    def written(self, b: int) -> int:
        """Elements written into buffer ``b`` since it was allocated."""
        return int(self._memory.bufs[b, k.B_WRITTEN])

    def count_written(self, b: int, n: int) -> None:
        """Count ``n`` elements a core stored into its own buffer ``b``."""
        self._memory.bufs[b, k.B_WRITTEN] += n

    def wake_at(self, b: int, count: int) -> None:
        """Wake Python when buffer ``b`` reaches ``count`` writes (the smallest count waited for)."""
        self._memory.bufs[b, k.B_WAIT_AT] = count

    def add_relay(self, node: int, buffer: int, src: int, dst: int, dst_buffer: int) -> None:
        """When a message from endpoint ``src`` completes in ``buffer`` (held by ``node``), the
        node stores the same values onward to the same place of ``dst_buffer`` at ``dst``."""
        rule = (src, dst, dst_buffer)
        rules = self._rules.setdefault(buffer, [])
        if rule not in rules:
            rules.append(rule)
            self._rules_stale = True

    def _rebuild_rules(self) -> None:
        self._rules_stale = False
        rows: list[tuple[int, int, int]] = []
        for b in range(self._n_bufs):
            self._memory.bufs[b, k.B_RULE0] = len(rows)
            rows += self._rules.get(b, [])
            self._memory.bufs[b, k.B_RULE1] = len(rows)
        self._replace(_memory=self._memory._replace(rules=np.array(rows or [(0, 0, 0)], np.int64)))
        self._state[k.S_MAX_RULES] = max((len(r) for r in self._rules.values()), default=0)

    # Posting ----------------------------------------------------------------------
    def endpoint(self, node: tuple) -> int:
        """The endpoint index of a core coordinate or ``HOST``."""
        try:
            return self._endpoint_of[node]
        except (KeyError, TypeError):
            return self.mesh.index_of(cast(Coord, node))  # the error that says what is wrong

    def node(self, endpoint: int) -> tuple:
        return HOST if endpoint == self.host else self.mesh.coord_of(endpoint)

    def post(
        self,
        src: int,
        dst: int,
        n_bytes: int,
        at: float,
        values: np.ndarray | None = None,
        buffer: int = -1,
        offset_word: int = 0,
        dma: bool = False,
        then: Callable[[], Any] | None = None,
        sent: Callable[[], Any] | None = None,
        label: str = "",
        chain: bool = False,
        copy: bool = False,
    ) -> int:
        """Queue a write at endpoint ``src``; return its serial number.

        Args:
            src: sending endpoint.
            dst: receiving endpoint.
            n_bytes: payload bytes (a message of none still costs a transaction).
            at: cycle it is posted.
            values: float32 values to store at ``dst`` (copied now), or None for none.
            buffer: the id of the destination buffer the values land in (-1: none).
            offset_word: where in that buffer, in elements.
            dma: hand it to the sender's DMA engine rather than its own stores.
            then: called when the last transaction has arrived.
            sent: called when the last transaction has left the sender's port.
            label: what it carries, for records.
            chain: the next message posted belongs to the same DMA transfer.
            copy: the sender copies the values out of its memory with loads and stores, one
                transaction per its stores' rate (``copy_cycles_per_transaction`` for a core,
                ``host_sram_write_cycles_per_transaction`` for the host); else they leave as
                fast as its port takes them (values already in registers, synthetic traffic).
        """
        words, pay = 0, -1
        if values is not None:
            words = len(values)
            pay = self._reserve_payload(words)
            self._messages.pay[pay : pay + words] = values
        addr = self._buffer_base[buffer] + offset_word if buffer >= 0 else -1
        network = k.PORT_X if self.host in (src, dst) else k.PORT_C
        flags = (k.F_CHAIN if chain else 0) | (k.F_COPY if copy else 0)
        return self._post(src, dst, network, addr, buffer, words, n_bytes, pay, flags, at, dma, -1, then, sent, label)

    def post_read(
        self,
        src: int,
        dst: int,
        source_word: int,
        n_words: int,
        at: float,
        buffer: int = -1,
        offset_word: int = 0,
        dma: bool = False,
        then: Callable[[], Any] | None = None,
        label: str = "",
        chain: bool = False,
    ) -> None:
        """Queue read requests at endpoint ``src`` for ``n_words`` elements at word ``source_word``
        of the memory image, which belongs to endpoint ``dst``: one request per transaction,
        sent over the read mesh; ``dst`` writes the values back when each request arrives.

        They land in ``buffer`` at ``offset_word`` if given, else in ``src``'s load area (see
        ``load_area``). ``dma``: the DMA engine issues them, keeping up to
        ``dma_outstanding_reads`` in flight; else the endpoint's own loads, one at a time.
        ``then`` is called once the last value has landed; ``chain``: the next message posted
        belongs to the same DMA transfer.
        """
        per = self.chip.transaction_bytes // 4
        base = self._buffer_base[buffer] + offset_word if buffer >= 0 else self.load_area(src)
        if buffer < 0 and n_words > LOAD_WORDS:
            raise SimError(f"a load of {n_words} elements is more than the {LOAD_WORDS} a load area holds")
        pay = self._reserve_payload(n_words)
        last = (n_words - 1) // per * per
        if last:  # every request but the last, without a callback, in one compiled call
            firsts = np.arange(0, last, per, dtype=np.int64)
            if self._view[k.S_FREE] < len(firsts) + 1:
                self._grow_messages(len(self._messages.msgs) + len(firsts) + 1)
            tick = self._tick_of(at)
            serial = k.post_reads(
                self._state,
                *self._post_args(),
                src,
                dst,
                base + firsts,
                buffer,
                np.full(len(firsts), per, np.int64),
                pay + firsts,
                k.F_READ | k.F_CHAIN,
                tick + self._overhead,
                dma,
                source_word + firsts,
            )
            if self.record and label:
                self._labels.update(dict.fromkeys(range(int(serial), int(serial) + len(firsts)), label))
        flags = k.F_READ | (k.F_CHAIN if chain else 0)
        words = n_words - last
        self._post(
            src,
            dst,
            k.PORT_R,
            base + last,
            buffer,
            words,
            0,
            pay + last,
            flags,
            at,
            dma,
            source_word + last,
            then,
            None,
            label,
        )

    def _tick_of(self, at: float) -> int:
        """The tick a message posted at cycle ``at`` enters at; refused if the fabric is past it."""
        tick = math.ceil(at * TICKS_PER_CYCLE - 1e-9)
        if tick < self._view[k.S_TICK]:
            raise SimError(
                f"a message posted at cycle {at:g} is behind the fabric, already at tick {self._view[k.S_TICK]}"
            )
        return tick

    def relay_ticks(self, endpoint: int) -> int:
        """``relay_cycles`` in ticks, read without numpy (a core asks after every span of work)."""
        return self._endpoint_words[endpoint * k.E_FIELDS + k.E_RELAY]

    def relay_cycles(self, endpoint: int) -> float:
        """Core cycles the relays ``endpoint`` has forwarded so far have cost it: for each, one
        iteration of its poll loop to notice the arrival and a copy per transaction onward."""
        return self._ends.endpoints[endpoint, k.E_RELAY] / TICKS_PER_CYCLE

    def load_area(self, endpoint: int) -> int:
        """Where the values an endpoint's own loads bring land: ``LOAD_WORDS`` words of the memory
        image past every SRAM and the DRAM, one area per endpoint."""
        return len(self.memory) - (self.n_cores + 1 - endpoint) * LOAD_WORDS

    def _reserve_payload(self, words: int) -> int:
        pay = self._pay_top
        if pay + words > len(self._messages.pay):
            self._compact_payload(words)
            pay = self._pay_top
        self._pay_top = pay + words
        return pay

    def _post(
        self,
        src: int,
        dst: int,
        network: int,
        addr: int,
        buffer: int,
        words: int,
        n_bytes: int,
        pay: int,
        flags: int,
        at: float,
        dma: bool,
        read_from: int,
        then: Callable[[], Any] | None,
        sent: Callable[[], Any] | None,
        label: str,
    ) -> int:
        view = self._view
        if view[k.S_FREE] == 0:
            self._grow_messages(len(self._messages.msgs) + 1)
        tick = self._tick_of(at)
        token = -1
        if then or sent:
            token = self._tokens = self._tokens + 1
            flags |= (k.F_NOTIFY_SENT if sent else 0) | (k.F_NOTIFY_DONE if then else 0)
            if then:
                self._on_done[token] = then
            if sent:
                self._on_sent[token] = sent
        port = k.PORT_C if src == self.host and network != k.PORT_R else network
        serial = k.post_one(
            self._state,
            *self._post_args(),
            src,
            dst,
            port,
            network,
            addr,
            buffer,
            words,
            n_bytes,
            pay,
            flags,
            tick + self._overhead,
            dma,
            read_from,
            token,
        )
        if label:
            self.label(int(serial), label)
        return int(serial)

    def post_many(self, src: np.ndarray, dst: np.ndarray, at_tick: np.ndarray, n_bytes: int) -> None:
        """Queue many payload-free messages at once (synthetic traffic): ``src[j]`` sends
        ``n_bytes`` to ``dst[j]`` from its stores' source at tick ``at_tick[j]``, in the order
        given (which must be by tick for each sender)."""
        count = len(src)
        state = self._state
        if state[k.S_FREE] < count:
            self._grow_messages(len(self._messages.msgs) + count)
        if self.record:
            self._grow_records(int(state[k.S_SERIAL]) + count)
        k.post_bulk(
            state,
            *self._post_args(),
            np.ascontiguousarray(src, np.int64),
            np.ascontiguousarray(dst, np.int64),
            np.ascontiguousarray(at_tick, np.int64),
            n_bytes,
        )

    def _compact_payload(self, need: int) -> None:
        """Make room for ``need`` more payload words: keep only what live messages still carry."""
        msgs, old_pay = self._messages.msgs, self._messages.pay
        live = msgs[:, k.M_PAY] >= 0
        live &= msgs[:, k.M_DONE] < msgs[:, k.M_TRANSACTIONS]
        live_ids = np.flatnonzero(live)
        starts = msgs[live_ids, k.M_PAY]
        unique, inverse = np.unique(starts, return_inverse=True)
        lengths = np.zeros(len(unique), np.int64)
        np.maximum.at(lengths, inverse, msgs[live_ids, k.M_WORDS])
        kept = int(lengths.sum())
        size = max(len(old_pay), _GROW * (kept + need))
        pay = np.zeros(size, np.float32)
        new_starts = np.r_[0, np.cumsum(lengths)[:-1]] if len(unique) else lengths
        # Each kept run moves from its old start to its new one: word i of the new payload comes
        # from word i + (old start - new start) of its run (one gather, not a loop over the runs).
        pay[:kept] = old_pay[np.arange(kept) + np.repeat(unique - new_starts, lengths)]
        msgs[live_ids, k.M_PAY] = new_starts[inverse]
        dead = ~live & (msgs[:, k.M_PAY] >= 0)
        msgs[dead, k.M_PAY] = -1
        self._replace(_messages=self._messages._replace(pay=pay))
        self._pay_top = kept

    # Running ----------------------------------------------------------------------
    @property
    def tick(self) -> int:
        """The first tick not yet (wholly) simulated."""
        return self._view[k.S_TICK]

    @property
    def busy(self) -> bool:
        """Whether anything is still in flight or queued."""
        view = self._view
        return bool(view[k.S_LIVE] or view[k.S_WHEEL])

    @property
    def last_delivery_cycle(self) -> float:
        return self._state[k.S_LAST] / TICKS_PER_CYCLE

    def advance(self, limit: int) -> tuple[int, list[tuple[int, int]]]:
        """Simulate ticks up to ``limit`` (exclusive) or until something wakes Python.

        Returns:
            The tick reached, and the wakes there: ``(WAKE_BUFFER, buffer id)``,
            ``(WAKE_SENT, message)`` or ``(WAKE_DONE, message)``, in a fixed order.
        """
        view = self._view
        if self._rules_stale:
            self._rebuild_rules()
        elif not view[k.S_PHASE] and view[k.S_NEXT] >= limit:
            return view[k.S_TICK], []  # nothing to do before the limit: the call would only move the tick
        while True:
            status = k.advance(limit, self._state, *self._kernel_args())
            if status == k.DONE_ROOM:
                self._grow_for_kernel()
                continue
            if status == k.DONE_STUCK:
                raise DeadlockError(self.stuck())
            if status != k.DONE_WAKE:
                if self._pay_top and not (view[k.S_LIVE] or view[k.S_WHEEL]):
                    self._pay_top = 0
                return view[k.S_TICK], []
            return view[k.S_TICK], self._events.wakes[: view[k.S_WAKES]].tolist()

    def stuck(self) -> list[str]:
        """The words of a ``DeadlockError`` for messages the loop found can never move."""
        return [
            f"the fabric holds {int(self._state[k.S_LIVE])} messages that can never move "
            f"(at cycle {self.tick / TICKS_PER_CYCLE:g})"
        ]

    # Driving the loop from other compiled code ---------------------------------------
    def wakes_from(self, first: int) -> list[tuple[int, int]]:
        """The wakes of the tick the loop last stopped at, from the ``first``-th (compiled code that
        advanced the fabric reacted to those before it)."""
        return [(kind, ident) for kind, ident in self._events.wakes[first : self._view[k.S_WAKES]].tolist()]

    def loop_args(self) -> tuple:
        """The state and the records, as compiled code passes them to ``fabric_kernel.advance``."""
        if self._rules_stale:
            self._rebuild_rules()
        return (self._state, *self._kernel_args())

    @property
    def overhead_ticks(self) -> int:
        """Ticks from a write's post to its first transaction's earliest injection."""
        return self._overhead

    @property
    def payload_top(self) -> int:
        """The first payload word not reserved (compiled code that posts reserves its own)."""
        return self._pay_top

    @payload_top.setter
    def payload_top(self, top: int) -> None:
        self._pay_top = top

    def room_for_message(self) -> None:
        """Grow the message table by a row at least (compiled code found none free)."""
        self._grow_messages(len(self._messages.msgs) + 1)

    def room_for_payload(self, words: int) -> None:
        """Make room for ``words`` more payload words (compiled code found none beyond ``payload_top``)."""
        self._compact_payload(words)

    def room_for_tick(self) -> None:
        """Grow what the next tick may fill (``advance`` returned ``fabric_kernel.DONE_ROOM``)."""
        self._grow_for_kernel()

    def label(self, serial: int, label: str) -> None:
        """Name what message ``serial`` carries, for the records (kept only by a chip that records)."""
        if self.record:
            self._labels[serial] = label

    def react(self, wakes: list[tuple[int, int]]) -> None:
        """Run what Python attached to the wakes ``advance`` returned."""
        for kind, ident in wakes:
            if kind == k.WAKE_BUFFER:
                self.buffers[ident].wake_ready()
            elif kind == k.WAKE_SENT:
                self._on_sent.pop(ident)()
            else:
                self._on_done.pop(ident)()

    # Results ----------------------------------------------------------------------
    @property
    def messages_sent(self) -> int:
        """Messages posted, relays included."""
        return int(self._state[k.S_SERIAL])

    @property
    def messages_delivered(self) -> int:
        return self.messages_sent - int(self._state[k.S_LIVE])

    def zero_load_cycles(self, recs: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """The latency each recorded message (of ``rows``, a mask, if given) would have had on
        an idle chip: the formulas of the module docstring, with the router hops it crossed."""

        def column(c: int) -> np.ndarray:
            return recs[:, c] if rows is None else recs[:, c][rows]

        src, dst, network, hops = column(k.C_SRC), column(k.C_DST), column(k.C_NET), column(k.C_HOPS)
        n = np.maximum(1, -(-column(k.C_BYTES) // 8))
        reads = network == k.PORT_R
        t = hops * self._hop_ticks + n * np.where(reads, self._rates["r"], self._rates["c"])
        to_host = dst == self.host
        if to_host.any() or (src == self.host).any():
            burst = np.where(reads, self._elink["r"], self._elink["x"])
            packet = np.where(reads, self._elink_packet["r"], self._elink_packet["x"])
            # The first transaction pays a whole packet unless it continued the one before it.
            first = np.where(column(k.C_FLAGS) & k.F_BURST, burst, packet)
            crossing = first + (n - 1) * burst + self._elink_latency
            off_chip = hops * self._hop_ticks + crossing
            last = np.where(reads, self._rates["r"], self._rates["x"])
            t = np.where(src == self.host, off_chip + last, np.where(to_host, off_chip + 1, t))
        return (t + self._overhead) / TICKS_PER_CYCLE

    def records(self, ordered: bool = True) -> np.ndarray:
        """One row per completed message (``fabric_kernel.C_*`` columns), in posting order if
        ``ordered``, else in the order they completed."""
        if not self.record:
            raise MemoryAccessError("transfers are kept only by a chip built with record=True or trace=True")
        recs = self._log.recs[: int(self._state[k.S_RECS])]
        return recs[np.argsort(recs[:, k.C_SERIAL], kind="stable")] if ordered else recs

    @property
    def transfers(self) -> list[Transfer]:
        """Every completed message, in posting order (needs a chip built to record)."""
        return self.transfers_between(0.0, math.inf)

    def transfers_between(self, start: float, end: float) -> list[Transfer]:
        """The completed messages posted in cycles ``[start, end)``, in posting order."""
        recs = self.records()
        posted = recs[:, k.C_POST] - ticks(self.chip.write_overhead_cycles)
        return self._transfers(recs[(posted >= start * TICKS_PER_CYCLE) & (posted < end * TICKS_PER_CYCLE)])

    def traced_transfers(self) -> list[Transfer]:
        """The completed messages that crossed a link within the trace's window."""
        serials = np.unique(self._log.spans[: int(self._state[k.S_SPANS]), k.SP_SERIAL])
        recs = self.records()
        return self._transfers(recs[np.isin(recs[:, k.C_SERIAL], serials)])

    def _transfers(self, recs: np.ndarray) -> list[Transfer]:
        """``Transfer`` objects of the given records, with their link spans."""
        overhead = ticks(self.chip.write_overhead_cycles)
        kept = self._log.spans[: int(self._state[k.S_SPANS])]
        kept = kept[np.lexsort((kept[:, k.SP_LINK], kept[:, k.SP_START]))]  # in time order, whatever the loop's
        spans: dict[int, list[tuple[int, float, float]]] = {}
        for link, first, last, serial in kept.tolist():
            spans.setdefault(serial, []).append((link, first / TICKS_PER_CYCLE, last / TICKS_PER_CYCLE))
        zero_load = self.zero_load_cycles(recs)
        out = []
        for row, zero in zip(recs.tolist(), np.atleast_1d(zero_load).tolist(), strict=True):
            serial = row[k.C_SERIAL]
            label = self._labels.get(serial, "")
            if not label and row[k.C_FLAGS] & k.F_RELAYED:
                label = f"relay {self._buf_names[row[k.C_BUF]]}"
            elif not label and row[k.C_FLAGS] & k.F_REPLY:
                label = f"reply {self._buf_names[row[k.C_BUF]]}" if row[k.C_BUF] >= 0 else "reply to a load"
            out.append(
                Transfer(
                    serial,
                    self.node(row[k.C_SRC]),
                    self.node(row[k.C_DST]),
                    row[k.C_BYTES],
                    (row[k.C_POST] - overhead) / TICKS_PER_CYCLE,
                    row[k.C_INJ] / TICKS_PER_CYCLE,
                    row[k.C_DEL] / TICKS_PER_CYCLE,
                    row[k.C_HOPS],
                    zero,
                    label,
                    spans.get(serial, []),
                )
            )
        return out

    def busy_bins(self) -> tuple[float, np.ndarray]:
        """Bin width in cycles and busy cycles per (link, bin), when the trace keeps bins."""
        width = int(self._state[k.S_BIN_TICKS])
        if not width:
            raise MemoryAccessError("busy bins are kept only with TraceOptions(bin_cycles=...)")
        last = int(self._state[k.S_LAST]) // width + 1
        return width / TICKS_PER_CYCLE, self._log.bins[:, :last] / TICKS_PER_CYCLE

    @property
    def bytes_injected(self) -> int:
        """Payload bytes of every message posted, relays included."""
        return int(self._state[k.S_BYTES_SENT])

    @property
    def bytes_delivered(self) -> int:
        """Payload bytes of the messages that have arrived whole."""
        return int(self._state[k.S_BYTES_DONE])
