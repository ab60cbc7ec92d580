"""The fabric's compiled loop: transactions moving hop by hop through buffered routers.

This module is the simulator's innermost loop, compiled by numba (``cache=True``: only the
first run on a machine pays for compilation). It knows nothing of simpy or of Python
objects: the state of the whole interconnect lives in integer arrays that
``epiphany_sim.fabric`` builds, grouped into a few records (``Network``, ``Ends``,
``Messages``, ``Events``, ``Due``, ``Memory``, ``Log``) beside the scalars of ``state``, and
``advance`` moves it forward tick by tick. A tick is half a cycle, the grain at which the
1.5-cycle router hop is exact. The routes come from ``Mesh.next_hops``, as a table of the
output each router takes toward each endpoint.

What one tick ``t`` does, in this order:

1. Deliveries due at ``t``: a transaction's payload lands in memory, its buffer's write
   count grows, and a message whose last transaction landed is complete: the relay rules of
   its buffer post copies onward (the receiving core storing them onward, a debt its
   program pays), and a message someone waits on wakes Python. When anything wakes Python,
   the tick stops here and ``advance`` returns, so that Python's reaction (a write posted
   at this very cycle) enters at step 2 of the same tick.
2. Injection: every endpoint (a core or the host) with work pushes at most one transaction
   per port into its router's local input FIFO, if the port is free and the FIFO has room.
   Its sources (a queue of messages each) take turns by priority, as in the architecture reference:
   the replies to read requests it serves first, then the core's own stores, then its DMA
   channels, each of which sends at most one transaction per ``dma_cycles_per_transaction``
   and keeps at most ``dma_outstanding_reads`` read requests in flight. The host's own writes
   and the DRAM's replies, two masters behind one eLink, take turns instead.
3. Forwarding: every router with transactions grants each free output, round-robin among
   the input FIFOs whose head transaction is ready and routed there (``_arbitrate``), if the
   downstream FIFO has room (credit-based back-pressure). A granted transaction holds the output for
   the link's cycles per transaction and reaches the next router ``latency`` ticks later.

The eLink prices each transaction by what came before it on the same path (writes or read
requests, into the chip or out of it): one that continues a burst, from the same endpoint
as the path's last transaction and to the doubleword after its address, pays a burst's
ticks (``EL_BURST``); any other pays a whole packet's (``EL_PACKET``), address included. A
path carries its transactions one at a time, in the order its one port (into the chip, the
host's) or its one output (out of it, to the host) takes them, so the burst a transaction
continues is decided by the same rules as everything else in the tick.

Every decision in a tick reads the state from the start of that tick: a transaction moved
from one router to the next at ``t`` is never ready there before ``t + 1`` (one injected by
its core at ``t`` may leave its router in the same tick: the injection is step 2, the
routers' grants step 3), and a FIFO slot freed at ``t`` is seen by the
upstream router at ``t + 1``. So the order in which routers or endpoints are visited
changes nothing, and no result depends on the order of two posts made in the same cycle.
Every time is a whole number of ticks (the chip's fields are checked to be whole half
cycles), so the loop is deterministic: the same posts give the same ticks on every run.
Ticks in which nothing can change are skipped, and in a tick only the routers and endpoints
due then are visited (filed by the tick each is next due, in a bucket per tick for the next
``DUE_TICKS`` ticks and in a heap beyond, and taken in the order they became active), so that
a tick costs what moves in it, not what waits.

The entry points (``advance``, ``post_one``, ``post_bulk``, ``post_reads``) take each record
as a plain tuple of its arrays and name it inside: numba's dispatcher types a plain tuple of
arrays in C, a named one in Python, which costs more than a short ``advance``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba
import numpy as np

# Every function here is compiled on first use and cached on disk. The loop allocates nothing,
# so numba's reference counting of arrays (``_nrt``) is switched off: it cost a third of the
# loop's time. The helpers are inlined into the loop, in numba's IR (compiled on their own and
# called, the loop ran twice as long), but for the heap's push and pop: inlined at each of their
# dozens of places they doubled the compilation, and called they cost the loop no measurable time.
compiled = numba.njit(cache=True, _nrt=False, error_model="numpy")  # type: ignore[call-overload]
_inlined = numba.njit(cache=True, inline="always", _nrt=False, error_model="numpy")  # type: ignore[call-overload]


class Network(NamedTuple):
    """The routers of the three meshes and of the eLink's ends, and what they hold."""

    routers: np.ndarray
    """``routers[r, R_*]``."""
    inputs: np.ndarray
    """``inputs[i, I_*]``: one FIFO per router input port."""
    fifo: np.ndarray
    """``fifo[i, slot, Q_*]``: the transactions in input ``i``'s FIFO, a ring from ``I_HEAD``."""
    outputs: np.ndarray
    """``outputs[o, O_*]``: one per output link of a router."""
    routes: np.ndarray
    """``routes[r, endpoint]``: the output router ``r`` sends a transaction for ``endpoint`` by."""
    elink: np.ndarray
    """``elink[path, EL_*]``: each of the eLink's four paths, by its end's net from ``NET_ELINK_IN``."""
    want: np.ndarray
    """Scratch of one router's arbitration: the output each of its inputs' heads asks for (-1: none)."""


class Ends(NamedTuple):
    """The endpoints (each core, then the host), their ports into the routers and their sources."""

    endpoints: np.ndarray
    """``endpoints[e, E_*]``."""
    ports: np.ndarray
    """``ports[e, port, P_*]``, by ``PORT_*``."""
    sources: np.ndarray
    """``sources[e, s, SRC_*]``: a queue of messages per source (stores, DMA channels, replies)."""


class Messages(NamedTuple):
    """The messages posted and not yet complete, and their payloads."""

    msgs: np.ndarray
    """``msgs[m, M_*]``, flags ``F_*``."""
    free: np.ndarray
    """A stack of the free rows of ``msgs``, ``state[S_FREE]`` of them."""
    pay: np.ndarray
    """The float32 words of every payload, as posted."""


class Events(NamedTuple):
    """What happens at a future tick, and what the current tick has for Python."""

    wheel: np.ndarray
    """``wheel[bucket, k, W_*]``: the bucket is the tick modulo the wheel's size."""
    wheel_n: np.ndarray
    """Events in each bucket."""
    wakes: np.ndarray
    """``wakes[k]``: (``WAKE_*``, buffer id or token), ``state[S_WAKES]`` of them."""


class Due(NamedTuple):
    """The active routers and endpoints by the tick each is next due."""

    heap_r: np.ndarray
    """A binary heap of ``H_*`` entries of routers."""
    heap_e: np.ndarray
    """The same of endpoints."""
    due: np.ndarray
    """``due[k]``: the routers or endpoints due at the current tick, as keys (as in ``soon_r``)."""
    soon_r: np.ndarray
    """``soon_r[bucket, k]``: a router due at a tick within ``DUE_TICKS``, by the tick modulo
    ``DUE_TICKS``, as ``(activation order << DUE_ID_BITS) | index``."""
    soon_r_n: np.ndarray
    """Entries in each bucket of ``soon_r``."""
    soon_e: np.ndarray
    """The same of endpoints."""
    soon_e_n: np.ndarray
    """Entries in each bucket of ``soon_e``."""


class Memory(NamedTuple):
    """Where transactions land."""

    mem: np.ndarray
    """The float32 memory image: every SRAM, the DRAM window, a load area per endpoint."""
    bufs: np.ndarray
    """``bufs[b, B_*]``: every buffer a message can land in."""
    rules: np.ndarray
    """``rules[k, U_*]``: relay rules, grouped by the buffer they watch."""


class Log(NamedTuple):
    """What the fabric keeps of its traffic."""

    links: np.ndarray
    """``links[l, L_*]``: counters per directed link."""
    recs: np.ndarray
    """``recs[k, C_*]``: one per completed message, when recording."""
    spans: np.ndarray
    """``spans[k, SP_*]``: one per transaction per link within the trace's window, when tracing."""
    bins: np.ndarray
    """``bins[link, bin]``: busy ticks per link per bin of ``S_BIN_TICKS``, when tracing bins."""


# Networks a router belongs to. The off-chip link is four routers: its incoming end for
# writes and for read requests, and its outgoing end for each.
NET_C, NET_R, NET_X, NET_ELINK_IN, NET_ELINK_IN_R, NET_ELINK_OUT, NET_ELINK_OUT_R = range(7)
# Ports a core injects through, one per network: writes to cores, read requests, writes off
# chip. The host has two, the eLink's write and read paths (``PORT_C`` and ``PORT_R``).
PORT_C, PORT_R, PORT_X = range(3)
N_PORTS = 3

# routers[r, :]; R_NEXT is the earliest tick at which the router may move a transaction,
# R_POKE the tick after a downstream FIFO it found full last freed a slot; R_SEQ orders the
# routers by when they last became active, R_STAMP is the last tick they were taken as due;
# R_HELD has bit k set while its input R_IN0 + k holds a transaction (arbitration reads only those)
R_NET, R_IN0, R_IN1, R_OUT0, R_OUT1, R_COUNT, R_ACTIVE, R_NEXT, R_POKE, R_SEQ, R_STAMP, R_HELD = range(12)
R_FIELDS = 12
# inputs[i, :]: one FIFO per router input port, fed by a router (I_UP_ROUTER) or by an
# endpoint's port (I_UP_ENDPOINT); I_BLOCKED: the router or endpoint feeding it found it full and
# waits for its next pop (only such a pop wakes it, so that neither is visited every tick while
# the FIFO stays full)
I_ROUTER, I_RATE, I_HEAD, I_COUNT, I_FREE, I_POPPED, I_UP_ROUTER, I_BLOCKED, I_UP_ENDPOINT = range(9)
I_FIELDS = 9
# fifo[i, slot, :]: the message, which of its transactions, the tick it is ready, its output
Q_MSG, Q_TRANSACTION, Q_READY, Q_OUT = range(4)
Q_FIELDS = 4
# outputs[o, :]
O_ROUTER, O_DEST, O_SINK, O_LATENCY, O_RATE, O_LINK, O_HOP, O_BUSY, O_RR = range(9)
O_FIELDS = 9
# endpoints[e, :]; E_NEXT is the earliest tick at which the endpoint may inject;
# E_RELAY: ticks of core time the relays it forwarded have cost it so far; E_TURN: the source whose
# transaction the host last sent into the eLink (its own writes and the DRAM's replies take turns);
# E_SEQ and E_STAMP as R_SEQ and R_STAMP
E_PENDING, E_ACTIVE, E_DMA_HEAD, E_DMA_TAIL, E_NEXT, E_RELAY, E_TURN, E_SEQ, E_STAMP = range(9)
E_FIELDS = 9
# ports[e, port, :]
P_FIFO, P_RATE, P_LINK, P_FREE = range(4)
P_FIELDS = 4
# sources[e, s, :]: a queue of messages per source of an endpoint: source 0 its own stores and
# loads, then one per DMA channel, then the replies to the read requests it serves.
# SRC_FREE: the tick the source may issue again (its rate); SRC_OUT and SRC_BOUND: its reads in
# flight, and how many it may have.
SRC_HEAD, SRC_TAIL, SRC_FREE, SRC_RATE, SRC_OUT, SRC_BOUND = range(6)
SRC_FIELDS = 6
# links[l, :]: counters per directed link
L_TRANSACTIONS, L_BYTES, L_MSGS, L_BUSY, L_WAIT, L_MAX_WAIT = range(6)
L_FIELDS = 6
# msgs[m, :]; M_SENT and M_DONE count its transactions injected and landed. The first eight are
# those every hop and every injection reads, in 64 bytes: a cache line or two.
(
    M_DST,
    M_BYTES,
    M_HOPS,
    M_SERIAL,
    M_PORT,
    M_POST,
    M_FLAGS,
    M_SENT,
    M_TRANSACTIONS,
    M_NEXT,
    M_DONE,
    M_SRC,
    M_NET,
    M_ADDR,
    M_BUF,
    M_WORDS,
    M_PAY,
    M_INJ,
    M_FROM,
    M_SOURCE,
    M_TOKEN,
) = range(21)
M_FIELDS = 21
# M_FROM: a read request's source address at its target; M_SOURCE: the source a read request (and
# so its reply) belongs to;
# M_TOKEN: the number Python gave what it attached to the message (its reply keeps it).
# F_READ: a read request; F_REPLY: the reply to one; F_CHAIN: the same transfer goes on in
# the next message (a DMA channel takes them together); F_COPY: values its sender copies out of
# its memory with loads and stores, so its stores' source paces its transactions (SRC_RATE);
# F_BURST: its first transaction continued a burst on the eLink (its zero-load latency pays no packet).
F_NOTIFY_SENT, F_NOTIFY_DONE, F_RELAYED, F_READ, F_REPLY, F_CHAIN, F_COPY, F_BURST = 1, 2, 4, 16, 32, 64, 128, 256
# records[k, :]: one per completed message, when recording
(C_SERIAL, C_SRC, C_DST, C_BYTES, C_POST, C_INJ, C_DEL, C_HOPS, C_FLAGS, C_BUF, C_NET) = range(11)
C_FIELDS = 11
# spans[k, :]: one per transaction per link, when tracing
SP_LINK, SP_START, SP_END, SP_SERIAL = range(4)
SP_FIELDS = 4
# bufs[b, :]: every buffer a message can land in
B_BASE, B_WRITTEN, B_WAIT_AT, B_RULE0, B_RULE1 = range(5)
B_FIELDS = 5
# rules[k, :]: relay rules, grouped by the buffer they watch
U_SRC, U_DST, U_BUF = range(3)
# elink[path, :]: each of the eLink's four paths, in the order of its ends' nets from NET_ELINK_IN:
# the endpoint and the word address of the last transaction it carried, and the ticks a transaction
# takes on it when it continues that burst and when it does not (a whole packet)
EL_SRC, EL_ADDR, EL_BURST, EL_PACKET = range(4)
EL_FIELDS = 4
WORDS_PER_TRANSACTION = 2
# wheel[bucket, k, :]: what happens at a future tick (the bucket is the tick modulo the wheel's size)
W_KIND, W_MSG, W_TRANSACTION = range(3)
W_FIELDS = 3
KIND_DELIVER, KIND_SENT = 0, 1
# heap_r[k, :] and heap_e[k, :]: the active routers and endpoints by the tick they are next due
# (a binary heap on (H_TICK, H_SEQ), with entries made stale by a later change of that tick)
H_TICK, H_SEQ, H_ID = range(3)
H_FIELDS = 3
# soon_r[bucket, k] and soon_e[bucket, k]: the same due within DUE_TICKS ticks, in buckets by the tick
# modulo DUE_TICKS (filing and taking one costs no heap's sifting), each as one number: its
# activation order above DUE_ID_BITS, the row below
DUE_TICKS = 64
DUE_ID_BITS = 24
DUE_ID_MASK = (1 << DUE_ID_BITS) - 1
# wakes[k, :]: what Python must react to: a buffer's id, or a message's token
WAKE_BUFFER, WAKE_SENT, WAKE_DONE = 0, 1, 2
# state[:]: scalars
(
    S_TICK,
    S_PHASE,
    S_LIVE,
    S_WAKES,
    S_FREE,
    S_SERIAL,
    S_RECS,
    S_SPANS,
    S_HEAP_R,
    S_HEAP_E,
    S_WHEEL,
    S_LAST,
    S_RECORD,
    S_TRACE_FROM,
    S_TRACE_TO,
    S_BIN_TICKS,
    S_DEPTH,
    S_HOST,
    S_WMASK,
    S_MAX_RULES,
    S_BYTES_SENT,
    S_BYTES_DONE,
    S_DRAM_TICKS,
    S_POLL_TICKS,
    S_SEQ,
    S_NEXT,
    S_TAKEN_R,
    S_TAKEN_E,
) = range(28)
S_FIELDS = 28
# S_TAKEN_R, S_TAKEN_E: the last tick whose routers (endpoints) were taken as due; a row due at or
# before it again goes to the heap, whose entries stay until taken
# S_NEXT: no tick before it has anything to do (the next tick the loop will simulate, as far as
# it knows, lowered by every post): Python need not call ``advance`` for a limit up to it
NEVER = np.int64(1) << 62

# What ``advance`` returns.
DONE_LIMIT, DONE_WAKE, DONE_ROOM, DONE_IDLE, DONE_STUCK = 0, 1, 2, 3, 4


# The due sets ----------------------------------------------------------------------------------
@_inlined
def _heap_before(heap, i, j):
    return heap[i, H_TICK] < heap[j, H_TICK] or (heap[i, H_TICK] == heap[j, H_TICK] and heap[i, H_SEQ] < heap[j, H_SEQ])


@_inlined
def _heap_swap(heap, i, j):
    for f in range(H_FIELDS):
        v = heap[i, f]
        heap[i, f] = heap[j, f]
        heap[j, f] = v


@compiled
def _heap_add(heap, n, tick, seq, ident):
    """Add an entry to the heap of ``n`` entries; the caller counts it."""
    heap[n, H_TICK] = tick
    heap[n, H_SEQ] = seq
    heap[n, H_ID] = ident
    c = n
    while c > 0:
        p = (c - 1) >> 1
        if not _heap_before(heap, c, p):
            break
        _heap_swap(heap, c, p)
        c = p


@compiled
def _heap_drop(heap, n):
    """Remove the first of the heap's ``n`` entries; the caller counts it."""
    n -= 1
    for f in range(H_FIELDS):
        heap[0, f] = heap[n, f]
    c = 0
    while True:
        first = c
        left = 2 * c + 1
        if left < n and _heap_before(heap, left, first):
            first = left
        if left + 1 < n and _heap_before(heap, left + 1, first):
            first = left + 1
        if first == c:
            break
        _heap_swap(heap, c, first)
        c = first


@_inlined
def _due_valid(table, active, seq, nxt, ident, order, tick):
    """Whether an entry ``(order, ident)`` filed for ``tick`` is current: the row is active, in the
    same activation, and still next due at ``tick``."""
    return table[ident, active] and table[ident, seq] == order and table[ident, nxt] == tick


@_inlined
def _schedule_due(state, heap, size, table, active, seq, nxt, ident, soon, soon_n, taken):
    """Note that ``table`` row ``ident`` is next due at ``table[ident, nxt]``: in that tick's bucket
    of ``soon`` (counts ``soon_n``) if the tick is within ``DUE_TICKS`` of now and its bucket is
    still to be taken (``state[taken]``: the last tick taken) and has room, else in ``heap`` (its
    count at ``state[size]``). A full heap is first rebuilt from the table, which drops stale entries."""
    tick = table[ident, nxt]
    bucket = tick & (DUE_TICKS - 1)
    if state[taken] < tick and state[S_TICK] <= tick < state[S_TICK] + DUE_TICKS and soon_n[bucket] < soon.shape[1]:
        soon[bucket, soon_n[bucket]] = (table[ident, seq] << DUE_ID_BITS) | ident
        soon_n[bucket] += 1
        return
    n = state[size]
    if n == heap.shape[0]:
        n = 0
        for other in range(table.shape[0]):
            if table[other, active] and table[other, nxt] < NEVER and other != ident:
                _heap_add(heap, n, table[other, nxt], table[other, seq], other)
                n += 1
    _heap_add(heap, n, tick, table[ident, seq], ident)
    state[size] = n + 1


@_inlined
def _schedule_router(state, routers, due, r):
    _schedule_due(state, due.heap_r, S_HEAP_R, routers, R_ACTIVE, R_SEQ, R_NEXT, r, due.soon_r, due.soon_r_n, S_TAKEN_R)


@_inlined
def _schedule_endpoint(state, endpoints, due, e):
    _schedule_due(
        state, due.heap_e, S_HEAP_E, endpoints, E_ACTIVE, E_SEQ, E_NEXT, e, due.soon_e, due.soon_e_n, S_TAKEN_E
    )


@_inlined
def _first_due(state, heap, size, table, active, seq, nxt):
    """The earliest tick at which a row of ``heap`` is due (``NEVER``: none), dropping stale entries:
    those of an inactive row, of an earlier activation, or of a tick since changed."""
    while state[size] > 0:
        ident = heap[0, H_ID]
        if _due_valid(table, active, seq, nxt, ident, heap[0, H_SEQ], heap[0, H_TICK]):
            return heap[0, H_TICK]
        _heap_drop(heap, state[size])
        state[size] -= 1
    return NEVER


@_inlined
def _first_soon(table, active, seq, nxt, soon, soon_n, t, before):
    """The first tick after ``t`` and before ``before`` at which a row filed in the buckets ``soon``
    is due (``NEVER``: none). A bucket passed holds only stale entries (every entry is for a tick
    within ``DUE_TICKS`` of when it was filed): it is emptied."""
    for tick in range(t + 1, min(before, t + DUE_TICKS)):
        bucket = tick & (DUE_TICKS - 1)
        for k in range(soon_n[bucket]):
            key = soon[bucket, k]
            if _due_valid(table, active, seq, nxt, key & DUE_ID_MASK, key >> DUE_ID_BITS, tick):
                return tick
        soon_n[bucket] = 0
    return NEVER


@_inlined
def _take_row(table, stamp, due, n, key, t):
    """Add the row of ``key`` to the ``n`` rows due at tick ``t``, in activation order, unless it is
    there already; return the new count."""
    ident = key & DUE_ID_MASK
    if table[ident, stamp] == t:
        return n  # a second entry of a row already taken
    table[ident, stamp] = t
    k = n
    while k > 0 and due[k - 1] > key:
        due[k] = due[k - 1]
        k -= 1
    due[k] = key
    return n + 1


@_inlined
def _take_due(state, heap, size, table, active, seq, nxt, stamp, due, t, soon, soon_n, taken):
    """Take the rows due at tick ``t``, from tick ``t``'s bucket of ``soon`` and from ``heap``, into
    ``due[:n]`` as keys (as in ``soon``) in the order they became active (the order in which the
    loop visits them); return ``n``."""
    n = 0
    bucket = t & (DUE_TICKS - 1)
    for k in range(soon_n[bucket]):
        key = soon[bucket, k]
        if _due_valid(table, active, seq, nxt, key & DUE_ID_MASK, key >> DUE_ID_BITS, t):
            n = _take_row(table, stamp, due, n, key, t)
    soon_n[bucket] = 0
    state[taken] = t
    while _first_due(state, heap, size, table, active, seq, nxt) <= t:
        key = (heap[0, H_SEQ] << DUE_ID_BITS) | heap[0, H_ID]
        _heap_drop(heap, state[size])
        state[size] -= 1
        n = _take_row(table, stamp, due, n, key, t)
    return n


@_inlined
def _take_routers(state, routers, due, t):
    return _take_due(
        state,
        due.heap_r,
        S_HEAP_R,
        routers,
        R_ACTIVE,
        R_SEQ,
        R_NEXT,
        R_STAMP,
        due.due,
        t,
        due.soon_r,
        due.soon_r_n,
        S_TAKEN_R,
    )


@_inlined
def _take_endpoints(state, endpoints, due, t):
    return _take_due(
        state,
        due.heap_e,
        S_HEAP_E,
        endpoints,
        E_ACTIVE,
        E_SEQ,
        E_NEXT,
        E_STAMP,
        due.due,
        t,
        due.soon_e,
        due.soon_e_n,
        S_TAKEN_E,
    )


@_inlined
def _next_due_tick(state, t, routers, endpoints, due):
    """The earliest tick after ``t`` at which a router or an endpoint is due (``NEVER``: none)."""
    nxt = min(
        _first_due(state, due.heap_r, S_HEAP_R, routers, R_ACTIVE, R_SEQ, R_NEXT),
        _first_due(state, due.heap_e, S_HEAP_E, endpoints, E_ACTIVE, E_SEQ, E_NEXT),
    )
    nxt = min(nxt, _first_soon(routers, R_ACTIVE, R_SEQ, R_NEXT, due.soon_r, due.soon_r_n, t, nxt))
    return min(nxt, _first_soon(endpoints, E_ACTIVE, E_SEQ, E_NEXT, due.soon_e, due.soon_e_n, t, nxt))


@_inlined
def _activate_router(state, routers, due, r, at):
    """Router ``r`` may move a transaction from tick ``at``: make it active if it is not."""
    if routers[r, R_ACTIVE] == 0:
        routers[r, R_ACTIVE] = 1
        routers[r, R_SEQ] = state[S_SEQ]
        state[S_SEQ] += 1
    if at < routers[r, R_NEXT]:
        routers[r, R_NEXT] = at
        _schedule_router(state, routers, due, r)


@_inlined
def _activate_endpoint(state, endpoints, due, e, at):
    """Put endpoint ``e`` among the endpoints with messages to inject, from tick ``at``."""
    state[S_NEXT] = min(state[S_NEXT], at)
    if endpoints[e, E_ACTIVE] == 0:
        endpoints[e, E_ACTIVE] = 1
        endpoints[e, E_SEQ] = state[S_SEQ]
        state[S_SEQ] += 1
    if at < endpoints[e, E_NEXT]:
        endpoints[e, E_NEXT] = at
        _schedule_endpoint(state, endpoints, due, e)


@_inlined
def _next_due(state, routers, due, r, soon):
    """Router ``r`` is next worth a visit at ``soon`` (``NEVER``: when something brings it back),
    or leaves the active set if it holds nothing."""
    if routers[r, R_COUNT] > 0:
        routers[r, R_NEXT] = soon
        if soon < NEVER:
            _schedule_router(state, routers, due, r)
    else:
        routers[r, R_ACTIVE] = 0
        routers[r, R_NEXT] = NEVER


# FIFOs --------------------------------------------------------------------------------------------
@_inlined
def _push(state, network, due, msgs, i, m, transaction, ready):
    """Put transaction ``transaction`` of message ``m`` at the tail of input FIFO ``i``, ready to
    leave at tick ``ready`` by the output its route takes."""
    routers, inputs, fifo = network.routers, network.inputs, network.fifo
    r = inputs[i, I_ROUTER]
    slot = inputs[i, I_HEAD] + inputs[i, I_COUNT]
    if slot >= state[S_DEPTH]:
        slot -= state[S_DEPTH]
    fifo[i, slot, Q_MSG] = m
    fifo[i, slot, Q_TRANSACTION] = transaction
    fifo[i, slot, Q_READY] = ready
    fifo[i, slot, Q_OUT] = network.routes[r, msgs[m, M_DST]]
    inputs[i, I_COUNT] += 1
    routers[r, R_COUNT] += 1
    routers[r, R_HELD] |= 1 << (i - routers[r, R_IN0])
    _activate_router(state, routers, due, r, ready)


@_inlined
def _pop(state, network, endpoints, due, i, t):
    """Take the head transaction off input FIFO ``i`` at tick ``t``; wake the router or endpoint
    feeding it if that one found it full."""
    routers, inputs = network.routers, network.inputs
    head = inputs[i, I_HEAD] + 1
    inputs[i, I_HEAD] = head if head < state[S_DEPTH] else 0
    inputs[i, I_COUNT] -= 1
    inputs[i, I_POPPED] = t
    inputs[i, I_FREE] = t + inputs[i, I_RATE]
    r = inputs[i, I_ROUTER]
    routers[r, R_COUNT] -= 1
    if inputs[i, I_COUNT] == 0:
        routers[r, R_HELD] &= ~(1 << (i - routers[r, R_IN0]))
    if inputs[i, I_BLOCKED]:
        inputs[i, I_BLOCKED] = 0
        up = inputs[i, I_UP_ROUTER]
        if up >= 0:
            routers[up, R_POKE] = t + 1
            _activate_router(state, routers, due, up, t + 1)
        else:
            _activate_endpoint(state, endpoints, due, inputs[i, I_UP_ENDPOINT], t + 1)


@_inlined
def _room(state, inputs, i, t):
    """Whether input FIFO ``i`` has a free slot, as its upstream sees it at tick ``t``."""
    seen = inputs[i, I_COUNT] + (1 if inputs[i, I_POPPED] == t else 0)
    return seen < state[S_DEPTH]


@_inlined
def _blocked(inputs, i, t):
    """The router feeding FIFO ``i`` found it full at tick ``t``: the next pop brings it back.
    Returns whether that pop happened during ``t`` already (look again at ``t + 1``)."""
    if inputs[i, I_POPPED] == t:
        return True
    inputs[i, I_BLOCKED] = 1
    return False


# Events, wakes and records --------------------------------------------------------------------
@_inlined
def _schedule(state, events, at, kind, m, transaction):
    """Put an event of ``kind`` for transaction ``transaction`` of message ``m`` on the wheel at tick ``at``."""
    wheel, wheel_n = events.wheel, events.wheel_n
    bucket = at & state[S_WMASK]
    k = wheel_n[bucket]
    wheel[bucket, k, W_KIND] = kind
    wheel[bucket, k, W_MSG] = m
    wheel[bucket, k, W_TRANSACTION] = transaction
    wheel_n[bucket] = k + 1
    state[S_WHEEL] += 1


@_inlined
def _wake(state, wakes, kind, ident):
    k = state[S_WAKES]
    wakes[k, 0] = kind
    wakes[k, 1] = ident
    state[S_WAKES] = k + 1


@_inlined
def _transaction_bytes(msgs, m, transaction):
    left = msgs[m, M_BYTES] - 8 * transaction
    return 8 if left > 8 else (left if left > 0 else 0)


@_inlined
def _count(links, link, n_bytes, rate, waited, first):
    """Count a transaction of ``n_bytes`` (the ``first`` of its message or not) on ``link``, which it
    holds ``rate`` ticks after waiting ``waited`` in the FIFO that feeds it."""
    links[link, L_TRANSACTIONS] += 1
    links[link, L_BYTES] += n_bytes
    links[link, L_BUSY] += rate
    links[link, L_WAIT] += waited
    if waited > links[link, L_MAX_WAIT]:
        links[link, L_MAX_WAIT] = waited
    if first:
        links[link, L_MSGS] += 1


@_inlined
def _span(state, log, link, start, end, serial):
    """Keep a transaction's ticks on ``link`` as a span (within the trace's window) and in its bins."""
    if state[S_TRACE_FROM] <= start < state[S_TRACE_TO]:
        spans = log.spans
        k = state[S_SPANS]
        spans[k, SP_LINK] = link
        spans[k, SP_START] = start
        spans[k, SP_END] = end
        spans[k, SP_SERIAL] = serial
        state[S_SPANS] = k + 1
    width = state[S_BIN_TICKS]
    if width > 0:
        t = start
        while t < end:
            b = t // width
            stop = min(end, (b + 1) * width)
            log.bins[link, b] += stop - t
            t = stop


@_inlined
def _carried(state, t, log, msgs, link, m, transaction, rate, waited):
    """Count and trace transaction ``transaction`` of message ``m`` taking ``link`` at tick ``t`` for ``rate`` ticks."""
    _count(log.links, link, _transaction_bytes(msgs, m, transaction), rate, waited, transaction == 0)
    _span(state, log, link, t, t + rate, msgs[m, M_SERIAL])


@_inlined
def _elink_ticks(elink, path, msgs, m, transaction):
    """Ticks transaction ``transaction`` of message ``m`` takes on the eLink's ``path``, which carries it
    now: a burst's if the path's last transaction came from the same endpoint to the doubleword
    before (a read request's address is the one it reads), else a whole packet's."""
    src = msgs[m, M_SRC]
    if msgs[m, M_FLAGS] & F_READ:
        addr = msgs[m, M_FROM]
    else:
        addr = msgs[m, M_ADDR] + WORDS_PER_TRANSACTION * transaction
    burst = elink[path, EL_SRC] == src and elink[path, EL_ADDR] + WORDS_PER_TRANSACTION == addr
    elink[path, EL_SRC] = src
    elink[path, EL_ADDR] = addr
    if not burst:
        return elink[path, EL_PACKET]
    if transaction == 0:
        msgs[m, M_FLAGS] |= F_BURST
    return elink[path, EL_BURST]


# Messages -----------------------------------------------------------------------------------------
@_inlined
def _enqueue_dma(msgs, endpoints, e, m):
    msgs[m, M_NEXT] = -1
    tail = endpoints[e, E_DMA_TAIL]
    if tail < 0:
        endpoints[e, E_DMA_HEAD] = m
    else:
        msgs[tail, M_NEXT] = m
    endpoints[e, E_DMA_TAIL] = m


@_inlined
def _enqueue_source(msgs, sources, e, s, m):
    msgs[m, M_NEXT] = -1
    tail = sources[e, s, SRC_TAIL]
    if tail < 0:
        sources[e, s, SRC_HEAD] = m
    else:
        msgs[tail, M_NEXT] = m
    sources[e, s, SRC_TAIL] = m


@_inlined
def _new_message(state, messages, src, dst, port, network, addr, buf, words, n_bytes, pay, flags, at):
    """A message from endpoint ``src``, counted as posted at tick ``at``; its row of ``msgs``."""
    msgs, free = messages.msgs, messages.free
    n = free[state[S_FREE] - 1]
    state[S_FREE] -= 1
    msgs[n, M_SRC] = src
    msgs[n, M_DST] = dst
    msgs[n, M_PORT] = port
    msgs[n, M_NET] = network
    msgs[n, M_ADDR] = addr
    msgs[n, M_BUF] = buf
    msgs[n, M_WORDS] = words
    msgs[n, M_BYTES] = n_bytes
    msgs[n, M_PAY] = pay
    msgs[n, M_TRANSACTIONS] = max(1, (n_bytes + 7) // 8)
    msgs[n, M_SENT] = 0
    msgs[n, M_DONE] = 0
    msgs[n, M_FLAGS] = flags
    msgs[n, M_POST] = at
    msgs[n, M_INJ] = -1
    msgs[n, M_NEXT] = -1
    msgs[n, M_SERIAL] = state[S_SERIAL]
    msgs[n, M_HOPS] = 0
    msgs[n, M_FROM] = -1
    msgs[n, M_SOURCE] = -1
    msgs[n, M_TOKEN] = -1
    state[S_SERIAL] += 1
    state[S_LIVE] += 1
    state[S_BYTES_SENT] += n_bytes
    return n


@_inlined
def _queue(state, ends, msgs, due, e, s, m, at):
    """Queue message ``m`` on source ``s`` of endpoint ``e``, from tick ``at``."""
    _enqueue_source(msgs, ends.sources, e, s, m)
    ends.endpoints[e, E_PENDING] += 1
    _activate_endpoint(state, ends.endpoints, due, e, at)


# Step 1: deliveries -------------------------------------------------------------------------------
@_inlined
def _reply(state, t, ends, messages, memory, due, m):
    """A read request ``m`` reached its target at tick ``t``: the target reads the values now
    and queues a write of them back to the requester (after the DRAM's latency for the host)."""
    msgs = messages.msgs
    here = msgs[m, M_DST]
    asker = msgs[m, M_SRC]
    words = msgs[m, M_WORDS]
    at = msgs[m, M_PAY]
    for w in range(words):
        messages.pay[at + w] = memory.mem[msgs[m, M_FROM] + w]
    host = state[S_HOST]
    network = PORT_X if here == host or asker == host else PORT_C
    port = PORT_C if here == host else network
    when = t + (state[S_DRAM_TICKS] if here == host else 0)
    flags = F_REPLY | (msgs[m, M_FLAGS] & F_NOTIFY_DONE)
    n = _new_message(
        state, messages, here, asker, port, network, msgs[m, M_ADDR], msgs[m, M_BUF], words, 4 * words, at, flags, when
    )
    msgs[n, M_SOURCE] = msgs[m, M_SOURCE]
    msgs[n, M_TOKEN] = msgs[m, M_TOKEN]
    _queue(state, ends, msgs, due, here, ends.sources.shape[1] - 1, n, when)  # its replies' source


@_inlined
def _relay(state, t, ends, messages, memory, due, m):
    """Message ``m`` completed in a buffer at tick ``t``: each relay rule of that buffer for its
    sender has the receiving core store the same values onward."""
    msgs, bufs, rules = messages.msgs, memory.bufs, memory.rules
    b = msgs[m, M_BUF]
    here = msgs[m, M_DST]
    for k in range(bufs[b, B_RULE0], bufs[b, B_RULE1]):
        if rules[k, U_SRC] != msgs[m, M_SRC]:
            continue
        to_buf = rules[k, U_BUF]
        addr = bufs[to_buf, B_BASE] + msgs[m, M_ADDR] - bufs[b, B_BASE]
        # The relaying core notices the arrival in its poll loop, then stores the values
        # onward: a copy out of its SRAM, paced by its stores' source.
        noticed = t + state[S_POLL_TICKS]
        n = _new_message(
            state,
            messages,
            here,
            rules[k, U_DST],
            PORT_C,
            PORT_C,
            addr,
            to_buf,
            msgs[m, M_WORDS],
            msgs[m, M_BYTES],
            msgs[m, M_PAY],
            F_RELAYED | F_COPY,
            noticed,
        )
        ends.endpoints[here, E_RELAY] += state[S_POLL_TICKS] + msgs[n, M_TRANSACTIONS] * ends.sources[here, 0, SRC_RATE]
        _queue(state, ends, msgs, due, here, 0, n, noticed)


@_inlined
def _record(state, recs, msgs, m, t):
    """Keep the record of message ``m``, completed at tick ``t``."""
    k = state[S_RECS]
    recs[k, C_SERIAL] = msgs[m, M_SERIAL]
    recs[k, C_SRC] = msgs[m, M_SRC]
    recs[k, C_DST] = msgs[m, M_DST]
    recs[k, C_BYTES] = msgs[m, M_BYTES]
    recs[k, C_POST] = msgs[m, M_POST]
    recs[k, C_INJ] = msgs[m, M_INJ]
    recs[k, C_DEL] = t
    recs[k, C_HOPS] = msgs[m, M_HOPS]
    recs[k, C_FLAGS] = msgs[m, M_FLAGS]
    recs[k, C_BUF] = msgs[m, M_BUF]
    recs[k, C_NET] = msgs[m, M_NET]
    state[S_RECS] = k + 1


@_inlined
def _complete(state, t, ends, messages, memory, events, due, log, m):
    """A message's last transaction landed at tick ``t``: replies, relays, wakes, records, then
    free it."""
    msgs = messages.msgs
    state[S_LIVE] -= 1
    state[S_LAST] = t
    state[S_BYTES_DONE] += msgs[m, M_BYTES]
    flags = msgs[m, M_FLAGS]
    here = msgs[m, M_DST]
    if flags & F_READ:
        _reply(state, t, ends, messages, memory, due, m)
    else:
        if flags & F_REPLY:  # the requester may send another read request
            ends.sources[here, msgs[m, M_SOURCE], SRC_OUT] -= 1
            _activate_endpoint(state, ends.endpoints, due, here, t)
        if flags & F_NOTIFY_DONE:
            _wake(state, events.wakes, WAKE_DONE, msgs[m, M_TOKEN])
        if msgs[m, M_BUF] >= 0:
            _relay(state, t, ends, messages, memory, due, m)
    if state[S_RECORD]:
        _record(state, log.recs, msgs, m, t)
    messages.free[state[S_FREE]] = m
    state[S_FREE] += 1


@_inlined
def _land(state, messages, memory, wakes, m, transaction):
    """Transaction ``transaction`` of message ``m`` lands: its words (up to two; a read request
    carries none) are stored and counted in its buffer, which may wake Python."""
    msgs = messages.msgs
    lo = WORDS_PER_TRANSACTION * transaction
    hi = lo if msgs[m, M_FLAGS] & F_READ else min(lo + WORDS_PER_TRANSACTION, msgs[m, M_WORDS])
    if hi <= lo:
        return
    addr = msgs[m, M_ADDR]
    if addr >= 0:
        src = msgs[m, M_PAY]
        for w in range(lo, hi):
            memory.mem[addr + w] = messages.pay[src + w]
    b = msgs[m, M_BUF]
    if b >= 0:
        bufs = memory.bufs
        bufs[b, B_WRITTEN] += hi - lo
        if bufs[b, B_WRITTEN] >= bufs[b, B_WAIT_AT]:
            bufs[b, B_WAIT_AT] = NEVER
            _wake(state, wakes, WAKE_BUFFER, b)


@_inlined
def _deliver_due(state, t, ends, messages, memory, events, due, log):
    """Step 1 of tick ``t``: land what is due and note whom it wakes."""
    msgs, wheel = messages.msgs, events.wheel
    bucket = t & state[S_WMASK]
    n = events.wheel_n[bucket]
    for k in range(n):
        m = wheel[bucket, k, W_MSG]
        if wheel[bucket, k, W_KIND] == KIND_SENT:
            _wake(state, events.wakes, WAKE_SENT, msgs[m, M_TOKEN])
            continue
        _land(state, messages, memory, events.wakes, m, wheel[bucket, k, W_TRANSACTION])
        msgs[m, M_DONE] += 1
        if msgs[m, M_DONE] == msgs[m, M_TRANSACTIONS]:
            _complete(state, t, ends, messages, memory, events, due, log, m)
    events.wheel_n[bucket] = 0
    state[S_WHEEL] -= n


# Step 2: injection --------------------------------------------------------------------------------
@_inlined
def _start_dma(t, ends, msgs, e):
    """Idle DMA channels of endpoint ``e`` take the next posted DMA transfer, all the messages of
    its chain."""
    endpoints, sources = ends.endpoints, ends.sources
    for s in range(1, sources.shape[1] - 1):
        head = endpoints[e, E_DMA_HEAD]
        if head < 0 or msgs[head, M_POST] > t:
            break
        if sources[e, s, SRC_HEAD] >= 0:
            continue
        while head >= 0:
            nxt = msgs[head, M_NEXT]
            _enqueue_source(msgs, sources, e, s, head)
            last = not msgs[head, M_FLAGS] & F_CHAIN
            head = nxt
            if last:
                break
        endpoints[e, E_DMA_HEAD] = head
        if head < 0:
            endpoints[e, E_DMA_TAIL] = -1


@_inlined
def _head_ready(t, sources, msgs, e, s, p):
    """Whether source ``s`` of endpoint ``e`` has a message for port ``p``, posted, that its rate
    lets go at tick ``t``."""
    m = sources[e, s, SRC_HEAD]
    return m >= 0 and msgs[m, M_PORT] == p and msgs[m, M_POST] <= t and sources[e, s, SRC_FREE] <= t


@_inlined
def _may_send(t, sources, msgs, e, s, p):
    """``_head_ready``, and a read request only while the source's reads in flight are below its bound."""
    if not _head_ready(t, sources, msgs, e, s, p):
        return False
    return not (msgs[sources[e, s, SRC_HEAD], M_FLAGS] & F_READ and sources[e, s, SRC_OUT] >= sources[e, s, SRC_BOUND])


@_inlined
def _choose_source(state, t, ends, msgs, e, p):
    """The source of endpoint ``e`` that sends on port ``p`` at tick ``t`` (-1: none): replies to read
    requests first, then the core's own stores and loads, then the DMA channel whose transfer was
    posted first."""
    sources = ends.sources
    replies = sources.shape[1] - 1
    chosen = -1
    for s in range(replies + 1):
        if not _may_send(t, sources, msgs, e, s, p):
            continue
        if s == replies or s == 0 or chosen < 0:
            chosen = s
        elif chosen != 0 and msgs[sources[e, s, SRC_HEAD], M_SERIAL] < msgs[sources[e, chosen, SRC_HEAD], M_SERIAL]:
            chosen = s
        if chosen == replies:
            break
    if e == state[S_HOST] and chosen == replies and ends.endpoints[e, E_TURN] == replies:
        # The host's own writes and the DRAM's replies are two masters sharing the eLink:
        # after a reply, a ready write goes first, so that neither starves the other.
        if _head_ready(t, sources, msgs, e, 0, p):
            chosen = 0
    return chosen


@_inlined
def _injected(state, at, ends, msgs, events, e, s, m):
    """The last transaction of message ``m`` left source ``s`` of endpoint ``e``; its port is free
    again at tick ``at``."""
    sources = ends.sources
    msgs[m, M_INJ] = at
    nxt = msgs[m, M_NEXT]
    sources[e, s, SRC_HEAD] = nxt
    if nxt < 0:
        sources[e, s, SRC_TAIL] = -1
    msgs[m, M_NEXT] = -1
    ends.endpoints[e, E_PENDING] -= 1
    if msgs[m, M_FLAGS] & F_READ:
        sources[e, s, SRC_OUT] += 1
    if msgs[m, M_FLAGS] & F_NOTIFY_SENT:
        _schedule(state, events, at, KIND_SENT, m, 0)


@_inlined
def _send(state, t, network, ends, msgs, events, due, log, e, p, s):
    """Source ``s`` of endpoint ``e`` pushes its next transaction through port ``p`` at tick ``t``.
    The host's ports are the eLink's incoming paths, which hold a transaction for a burst's or a
    whole packet's ticks: it is ready in the FIFO at their far end in the last of them, which the
    hand-off to the edge router takes (that output's latency is a tick)."""
    ports, sources = ends.ports, ends.sources
    i = ports[e, p, P_FIFO]
    if e == state[S_HOST]:
        ends.endpoints[e, E_TURN] = s
    m = sources[e, s, SRC_HEAD]
    transaction = msgs[m, M_SENT]
    if msgs[m, M_FLAGS] & F_READ:
        msgs[m, M_SOURCE] = s  # its reply frees a place in this source's reads in flight
    rate = ports[e, p, P_RATE]
    ready = t
    if e == state[S_HOST]:
        path = network.routers[network.inputs[i, I_ROUTER], R_NET] - NET_ELINK_IN
        rate = _elink_ticks(network.elink, path, msgs, m, transaction)
        ready = t + rate - 1
    _push(state, network, due, msgs, i, m, transaction, ready)
    ports[e, p, P_FREE] = t + rate
    if s or msgs[m, M_FLAGS] & F_COPY:
        sources[e, s, SRC_FREE] = t + sources[e, s, SRC_RATE]
    _carried(state, t, log, msgs, ports[e, p, P_LINK], m, transaction, rate, 0)
    msgs[m, M_SENT] = transaction + 1
    if transaction + 1 == msgs[m, M_TRANSACTIONS]:
        _injected(state, t + rate, ends, msgs, events, e, s, m)


@_inlined
def _endpoint_soon(t, inputs, ends, msgs, e):
    """When endpoint ``e`` is worth a look again: the earliest tick at which one of its sources has a
    transaction, its rate allows it and its port is free. A source held back by its reads in flight
    is brought back by a reply, one held back by a full FIFO by that FIFO's next pop (``_pop``)."""
    endpoints, ports, sources = ends.endpoints, ends.ports, ends.sources
    replies = sources.shape[1] - 1
    soon = NEVER
    for s in range(replies + 1):
        m = sources[e, s, SRC_HEAD]
        if m < 0:
            if 0 < s < replies and endpoints[e, E_DMA_HEAD] >= 0:
                soon = min(soon, max(t + 1, sources[e, s, SRC_FREE], msgs[endpoints[e, E_DMA_HEAD], M_POST]))
            continue
        if msgs[m, M_FLAGS] & F_READ and sources[e, s, SRC_OUT] >= sources[e, s, SRC_BOUND]:
            continue
        if inputs[ports[e, msgs[m, M_PORT], P_FIFO], I_BLOCKED]:
            continue
        ready = max(msgs[m, M_POST], sources[e, s, SRC_FREE], ports[e, msgs[m, M_PORT], P_FREE])
        soon = min(soon, max(ready, t + 1))
    return soon


@_inlined
def _inject(state, t, network, ends, messages, events, due, log):
    """Step 2 of tick ``t``: each endpoint due pushes a transaction per free port."""
    endpoints, ports = ends.endpoints, ends.ports
    msgs = messages.msgs
    n_due = _take_endpoints(state, endpoints, due, t)
    for a in range(n_due):
        e = due.due[a] & DUE_ID_MASK
        _start_dma(t, ends, msgs, e)
        for p in range(N_PORTS):
            i = ports[e, p, P_FIFO]
            if i < 0 or ports[e, p, P_FREE] > t:
                continue
            s = _choose_source(state, t, ends, msgs, e, p)
            if s < 0:
                continue
            if not _room(state, network.inputs, i, t):
                _blocked(network.inputs, i, t)  # a full FIFO: its next pop brings the endpoint back
                continue
            _send(state, t, network, ends, msgs, events, due, log, e, p, s)
        if endpoints[e, E_PENDING] > 0:
            endpoints[e, E_NEXT] = _endpoint_soon(t, network.inputs, ends, msgs, e)
            if endpoints[e, E_NEXT] < NEVER:
                _schedule_endpoint(state, endpoints, due, e)
        else:
            endpoints[e, E_ACTIVE] = 0
            endpoints[e, E_NEXT] = NEVER


# Step 3: forwarding -------------------------------------------------------------------------------
@_inlined
def _requests(t, network, r, soon):
    """Which output the head of each input of router ``r`` asks for at tick ``t`` (``want``, -1:
    none): only a head that is ready and whose input's pace allows it. Returns how many ask, and
    ``soon`` lowered to the tick at which a head not ready yet will be."""
    inputs, fifo, want = network.inputs, network.fifo, network.want
    in0 = network.routers[r, R_IN0]
    held = network.routers[r, R_HELD]
    requests = 0
    for k in range(network.routers[r, R_IN1] - in0):
        i = in0 + k
        want[k] = -1
        if not (held >> k) & 1:
            continue
        ready = fifo[i, inputs[i, I_HEAD], Q_READY]
        if ready > t:
            soon = min(soon, ready)
            continue
        if inputs[i, I_FREE] > t:
            soon = min(soon, inputs[i, I_FREE])
            continue
        want[k] = fifo[i, inputs[i, I_HEAD], Q_OUT]
        requests += 1
    return requests, soon


@_inlined
def _arbitrate(want, n_in, o, last):
    """Round-robin: the first of the ``n_in`` inputs after ``last`` (the output's previous winner),
    cyclically, whose head wants output ``o``."""
    c = last
    for _ in range(n_in):
        c = c + 1 if c + 1 < n_in else 0
        if want[c] == o:
            return c
    return -1


@_inlined
def _withdraw(want, first, n_in, o, winner):
    """The requests for output ``o`` (from input ``first`` on, as none before it asks for ``o``) are
    answered; return how many there were and whether an input other than ``winner`` lost."""
    answered = 0
    losers = False
    for j in range(first, n_in):
        if want[j] == o:
            want[j] = -1
            answered += 1
            losers = losers or j != winner
    return answered, losers


@_inlined
def _move(state, t, network, ends, msgs, events, due, log, o, i, in_k):
    """Output ``o`` takes the head of input ``i`` (its ``in_k``-th) at tick ``t``; return the tick
    the output is free again. The output of the eLink's outgoing ends to the host holds each
    transaction for a burst's or a whole packet's ticks."""
    inputs, fifo, outputs = network.inputs, network.fifo, network.outputs
    head = inputs[i, I_HEAD]
    m = fifo[i, head, Q_MSG]
    transaction = fifo[i, head, Q_TRANSACTION]
    waited = t - fifo[i, head, Q_READY]
    _pop(state, network, ends.endpoints, due, i, t)
    rate = outputs[o, O_RATE]
    kind = network.routers[outputs[o, O_ROUTER], R_NET]
    if kind == NET_ELINK_OUT or kind == NET_ELINK_OUT_R:
        rate = _elink_ticks(network.elink, kind - NET_ELINK_IN, msgs, m, transaction)
    outputs[o, O_BUSY] = t + rate
    outputs[o, O_RR] = in_k
    _carried(state, t, log, msgs, outputs[o, O_LINK], m, transaction, rate, waited)
    if transaction == 0:
        msgs[m, M_HOPS] += outputs[o, O_HOP]
    dest = outputs[o, O_DEST]
    if dest >= 0:
        _push(state, network, due, msgs, dest, m, transaction, t + outputs[o, O_LATENCY])
    else:
        _schedule(state, events, t + rate + outputs[o, O_LATENCY], KIND_DELIVER, m, transaction)
    return t + rate


@_inlined
def _grant(state, t, network, ends, msgs, events, due, log, o, in0, winner, losers, soon):
    """Output ``o`` goes to input ``in0 + winner`` at tick ``t`` if it is free and the FIFO it
    feeds has room; return ``soon`` lowered to when the router should look again."""
    inputs, outputs = network.inputs, network.outputs
    if outputs[o, O_BUSY] > t:
        return min(soon, outputs[o, O_BUSY])
    dest = outputs[o, O_DEST]
    if dest >= 0 and not _room(state, inputs, dest, t):
        if _blocked(inputs, dest, t):
            soon = min(soon, t + 1)
        return soon
    i = in0 + winner
    free_at = _move(state, t, network, ends, msgs, events, due, log, o, i, winner)
    if inputs[i, I_COUNT]:
        soon = min(soon, max(inputs[i, I_FREE], network.fifo[i, inputs[i, I_HEAD], Q_READY]))
    if losers:
        soon = min(soon, free_at)
    return soon


@_inlined
def _forward_router(state, t, network, ends, msgs, events, due, log, r):
    """Router ``r`` grants each output its inputs' heads ask for, at tick ``t``; return the tick at
    which it is next worth a visit."""
    routers, want = network.routers, network.want
    soon = routers[r, R_POKE] if routers[r, R_POKE] > t else NEVER
    requests, soon = _requests(t, network, r, soon)
    in0 = routers[r, R_IN0]
    n_in = routers[r, R_IN1] - in0
    for first in range(n_in):
        if requests == 0:
            break
        o = want[first]
        if o < 0:
            continue
        if requests == 1:  # the last request: no contest
            winner, answered, losers = first, 1, False
        else:
            winner = _arbitrate(want, n_in, o, network.outputs[o, O_RR])
            answered, losers = _withdraw(want, first, n_in, o, winner)
        requests -= answered
        soon = _grant(state, t, network, ends, msgs, events, due, log, o, in0, winner, losers, soon)
    return soon


@_inlined
def _forward(state, t, network, ends, messages, events, due, log):
    """Step 3 of tick ``t``: every router due grants its free outputs."""
    routers = network.routers
    n_due = _take_routers(state, routers, due, t)
    for a in range(n_due):
        r = due.due[a] & DUE_ID_MASK
        soon = _forward_router(state, t, network, ends, messages.msgs, events, due, log, r)
        _next_due(state, routers, due, r, soon)


# The loop -----------------------------------------------------------------------------------------
@_inlined
def _next_wheel_tick(state, t, wheel_n, before):
    """The first tick after ``t`` with something on the wheel, if it is before ``before``; else ``NEVER``."""
    if state[S_WHEEL] == 0:
        return NEVER
    mask = state[S_WMASK]
    for d in range(1, min(mask + 2, before - t)):
        if wheel_n[(t + d) & mask]:
            return t + d
    return NEVER


@_inlined
def _short_of_room(state, t, network, ends, events, log):
    """Whether a table could overflow in tick ``t``: every sink may complete a message and every
    rule fire, every link and port keep a span, and the bins must reach past ``t``."""
    sinks = events.wheel.shape[1]
    if state[S_FREE] < sinks * (state[S_MAX_RULES] + 1):
        return True
    if state[S_RECORD] and log.recs.shape[0] - state[S_RECS] < sinks:
        return True
    spare = network.outputs.shape[0] + 3 * ends.endpoints.shape[0]
    if state[S_TRACE_TO] > state[S_TRACE_FROM] and log.spans.shape[0] - state[S_SPANS] < spare:
        return True
    width = state[S_BIN_TICKS]
    return width > 0 and (t + 64 * width) // width >= log.bins.shape[1]


@_inlined
def _next_tick(state, t, limit, network, ends, events, due):
    """Where the loop goes after tick ``t``: the earliest tick a router or endpoint is due or the
    wheel holds something, capped at ``limit``; -1 to go on, else what ``advance`` returns."""
    nxt = _next_due_tick(state, t, network.routers, ends.endpoints, due)
    nxt = min(nxt, _next_wheel_tick(state, t, events.wheel_n, nxt))
    state[S_NEXT] = nxt
    if nxt == NEVER:
        state[S_TICK] = t + 1
        return DONE_IDLE if state[S_LIVE] == 0 else DONE_STUCK
    state[S_TICK] = max(t + 1, min(nxt, limit))
    return -1


@_inlined
def _run(limit, state, network, ends, messages, events, due, memory, log):
    """``advance`` on the named records: ticks of deliveries, injection and forwarding."""
    state[S_WAKES] = 0
    while True:
        t = state[S_TICK]
        if t >= limit:
            return DONE_LIMIT
        if state[S_LIVE] == 0 and state[S_WHEEL] == 0:
            return DONE_IDLE
        if state[S_PHASE] == 0:
            if _short_of_room(state, t, network, ends, events, log):
                return DONE_ROOM
            _deliver_due(state, t, ends, messages, memory, events, due, log)
            state[S_PHASE] = 1
            if state[S_WAKES]:
                return DONE_WAKE
            if state[S_LIVE] == 0 and state[S_WHEEL] == 0:
                return DONE_IDLE  # at tick t, whose injection a later post may still join
        _inject(state, t, network, ends, messages, events, due, log)
        _forward(state, t, network, ends, messages, events, due, log)
        state[S_PHASE] = 0
        done = _next_tick(state, t, limit, network, ends, events, due)
        if done >= 0:
            return done


@compiled
def advance(limit, state, network, ends, messages, events, due, memory, log):
    """Run ticks from ``state[S_TICK]`` up to, not including, ``limit``; each record as a plain tuple.

    Returns ``DONE_LIMIT`` (reached ``limit``), ``DONE_WAKE`` (step 1 of ``state[S_TICK]``
    woke Python: ``wakes[:state[S_WAKES]]``), ``DONE_ROOM`` (a table may overflow in the
    next tick: grow it and call again), ``DONE_IDLE`` (nothing left to move) or
    ``DONE_STUCK`` (messages are left that nothing will ever move: a bug of the model).
    """
    return _run(
        limit,
        state,
        Network(*network),
        Ends(*ends),
        Messages(*messages),
        Events(*events),
        Due(*due),
        Memory(*memory),
        Log(*log),
    )


# Posting ------------------------------------------------------------------------------------------
@_inlined
def _post(
    state,
    ends,
    messages,
    due,
    src,
    dst,
    port,
    network,
    addr,
    buf,
    words,
    n_bytes,
    pay,
    flags,
    at,
    dma,
    read_from,
    token,
):
    m = _new_message(state, messages, src, dst, port, network, addr, buf, words, n_bytes, pay, flags, at)
    msgs = messages.msgs
    msgs[m, M_FROM] = read_from
    msgs[m, M_TOKEN] = token
    if dma:
        _enqueue_dma(msgs, ends.endpoints, src, m)
        ends.endpoints[src, E_PENDING] += 1
        _activate_endpoint(state, ends.endpoints, due, src, at)
    else:
        _queue(state, ends, msgs, due, src, 0, m, at)
    return msgs[m, M_SERIAL]


@compiled
def post_one(
    state,
    ends,
    messages,
    due,
    src,
    dst,
    port,
    network,
    addr,
    buf,
    words,
    n_bytes,
    pay,
    flags,
    at,
    dma,
    read_from,
    token,
):
    """Queue one message at endpoint ``src`` (on source 0, its stores and loads, or on its DMA
    queue if ``dma``) and return its serial number; ``read_from`` is a read request's address
    at its target. The caller has made sure a free id exists."""
    return _post(
        state,
        Ends(*ends),
        Messages(*messages),
        Due(*due),
        src,
        dst,
        port,
        network,
        addr,
        buf,
        words,
        n_bytes,
        pay,
        flags,
        at,
        dma,
        read_from,
        token,
    )


@compiled
def post_bulk(state, ends, messages, due, src, dst, at, n_bytes):
    """Queue payload-free messages ``src[j] -> dst[j]`` at tick ``at[j]`` on source 0 (the
    stores) of each sender, in the order given (which is by tick for each sender)."""
    ends, messages, due = Ends(*ends), Messages(*messages), Due(*due)
    for j in range(len(src)):
        e = src[j]
        m = _new_message(state, messages, e, dst[j], PORT_C, PORT_C, -1, -1, 0, n_bytes, -1, 0, at[j])
        _queue(state, ends, messages.msgs, due, e, 0, m, at[j])


@compiled
def post_reads(state, ends, messages, due, src, dst, addr, buf, words, pay, flags, at, dma, read_from):
    """Queue ``len(addr)`` read requests at endpoint ``src`` as ``post_one`` would one after another
    (``words[j]`` elements from ``read_from[j]`` at ``dst``, landing at ``addr[j]``), none with a
    callback; return the first one's serial number. The caller has made sure the free ids exist."""
    first = state[S_SERIAL]
    ends, messages, due = Ends(*ends), Messages(*messages), Due(*due)
    for j in range(len(addr)):
        _post(
            state,
            ends,
            messages,
            due,
            src,
            dst,
            PORT_R,
            PORT_R,
            addr[j],
            buf,
            words[j],
            0,
            pay[j],
            flags,
            at,
            dma,
            read_from[j],
            -1,
        )
    return first


def needs_compiling(entry: Any = None) -> bool:
    """Whether the next run compiles the loop (``advance``, or another compiled ``entry`` point as
    large, which takes tens of seconds; the other entry points are small): not loaded in this
    process yet, and numba's disk cache (an index file, kept only while its source is unchanged) is
    missing or stale. ``False`` if numba's cache cannot be inspected, and under
    ``NUMBA_DISABLE_JIT=1``, where the loop runs as plain Python."""
    if getattr(numba.config, "DISABLE_JIT", False):  # set by numba from the environment at import
        return False
    loop: Any = advance if entry is None else entry  # its cache is numba's private attribute
    if loop.signatures:
        return False
    try:
        return not loop._cache._cache_file._load_index()
    except (AttributeError, OSError, ValueError):  # numba's private cache layout is not what it was
        return False
