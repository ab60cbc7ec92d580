"""The fabric's compiled loop: transactions moving hop by hop through buffered routers.

This module is the simulator's innermost loop, compiled by numba (``cache=True``: only the
first run on a machine pays for compilation). It knows nothing of simpy or of Python
objects: the state of the whole interconnect lives in integer arrays that
``epiphany_sim.fabric`` builds, and ``advance`` moves it forward tick by tick. A tick is
half a cycle, the grain at which the 1.5-cycle router hop is exact.

What one tick ``t`` does, in this order:

1. Deliveries due at ``t``: a transaction's payload lands in memory, its buffer's write
   count grows, and a message whose last transaction landed is complete: the relay rules of
   its buffer post copies onward (the receiving core storing them onward, a debt its
   program pays), and a
   message someone waits on wakes Python. When anything wakes Python, the tick stops here
   and ``advance`` returns, so that Python's reaction (a write posted at this very cycle)
   enters at step 2 of the same tick.
2. Injection: every endpoint (a core or the host) with work pushes at most one transaction
   per port into its router's local input FIFO, if the port is free and the FIFO has room.
   Its sources (a queue of messages each) take turns by priority, as in the architecture reference:
   the replies to read requests it serves first, then the core's own stores, then its DMA
   channels, each of which sends at most one transaction per ``dma_cycles_per_transaction``
   and keeps at most ``dma_outstanding_reads`` read requests in flight. The host's own writes
   and the DRAM's replies, two masters behind one eLink, take turns instead.
3. Forwarding: every router with transactions grants each free output, round-robin among
   the input FIFOs whose head transaction is ready and routed there, if the downstream
   FIFO has room (credit-based back-pressure). A granted transaction holds the output for
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
due then are visited (taken from a heap by the tick each is next due, in the order they
became active), so that a tick costs what moves in it, not what waits.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

# Every function here is compiled on first use and cached on disk. The loop allocates nothing,
# so numba's reference counting of arrays (``_nrt``) is switched off: it cost a third of the
# loop's time. The helpers are inlined into the loop.
compiled = numba.njit(cache=True, _nrt=False, error_model="numpy")  # type: ignore[call-overload]
_inlined = numba.njit(cache=True, inline="always", _nrt=False, error_model="numpy")  # type: ignore[call-overload]

# Networks a router belongs to. The off-chip link is four routers: its incoming end for
# writes and for read requests, and its outgoing end for each.
NET_C, NET_R, NET_X, NET_ELINK_IN, NET_ELINK_IN_R, NET_ELINK_OUT, NET_ELINK_OUT_R = range(7)
# Output directions of a mesh router: along the row, along the column, to its core, off chip.
DIR_EAST, DIR_WEST, DIR_SOUTH, DIR_NORTH, DIR_LOCAL, DIR_OFF = range(6)
N_DIRS = 6
SIDE_EAST, SIDE_WEST, SIDE_NORTH, SIDE_SOUTH = range(4)
# Ports a core injects through, one per network: writes to cores, read requests, writes off
# chip. The host has two, the eLink's write and read paths (``PORT_C`` and ``PORT_R``).
PORT_C, PORT_R, PORT_X = range(3)
N_PORTS = 3

# routers[r, :]; R_NEXT is the earliest tick at which the router may move a transaction,
# R_POKE the tick after a downstream FIFO it found full last freed a slot; R_SEQ orders the
# routers by when they last became active, R_STAMP is the last tick they were taken as due
R_ROW, R_COL, R_NET, R_IN0, R_IN1, R_OUT0, R_OUT1, R_COUNT, R_ACTIVE, R_NEXT, R_POKE, R_SEQ, R_STAMP, R_DIR = range(14)
R_FIELDS = R_DIR + N_DIRS
# inputs[i, :]: one FIFO per router input port, fed by a router (I_UP_ROUTER) or by an
# endpoint's port (I_UP_ENDPOINT); I_BLOCKED: the router or endpoint feeding it found it full and
# waits for its next pop (only such a pop wakes it, so that neither is visited every tick while
# the FIFO stays full)
I_ROUTER, I_RATE, I_HEAD, I_COUNT, I_FREE, I_POPPED, I_UP_ROUTER, I_BLOCKED, I_UP_ENDPOINT = range(9)
I_FIELDS = 9
# fifo[i, slot, :]
Q_MSG, Q_FLIT, Q_READY, Q_OUT = range(4)
Q_FIELDS = 4
# outputs[o, :]
O_ROUTER, O_DEST, O_SINK, O_LATENCY, O_RATE, O_LINK, O_HOP, O_BUSY, O_RR = range(9)
O_FIELDS = 9
# endpoints[e, :]; E_NEXT is the earliest tick at which the endpoint may inject; E_ELINK_X and
# E_ELINK_R are the incoming eLink's outputs toward core ``e`` on the xMesh and the rMesh;
# E_RELAY: ticks of core time the relays it forwarded have cost it so far; E_TURN: the source whose
# transaction the host last sent into the eLink (its own writes and the DRAM's replies take turns);
# E_SEQ and E_STAMP as R_SEQ and R_STAMP
E_PENDING, E_ACTIVE, E_DMA_HEAD, E_DMA_TAIL, E_ELINK_X, E_ELINK_R, E_NEXT, E_RELAY, E_TURN, E_SEQ, E_STAMP = range(11)
E_FIELDS = 11
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
L_FLITS, L_BYTES, L_MSGS, L_BUSY, L_WAIT, L_MAX_WAIT = range(6)
L_FIELDS = 6
# msgs[m, :]
(
    M_SRC,
    M_DST,
    M_PORT,
    M_NET,
    M_ADDR,
    M_BUF,
    M_WORDS,
    M_BYTES,
    M_PAY,
    M_FLITS,
    M_SENT,
    M_DONE,
    M_FLAGS,
    M_POST,
    M_INJ,
    M_NEXT,
    M_SERIAL,
    M_HOPS,
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
W_KIND, W_MSG, W_FLIT = range(3)
KIND_DELIVER, KIND_SENT = 0, 1
# heap_r[k, :] and heap_e[k, :]: the active routers and endpoints by the tick they are next due
# (a binary heap on (H_TICK, H_SEQ), with entries made stale by a later change of that tick)
H_TICK, H_SEQ, H_ID = range(3)
H_FIELDS = 3
# wakes[k, :]: what Python must react to: a buffer's id, or a message's token
WAKE_BUFFER, WAKE_SENT, WAKE_DONE = 0, 1, 2
# state[:]: scalars
(
    S_TICK,
    S_PHASE,
    S_LIVE,
    S_FLITS,
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
    S_COLS,
    S_ROWS,
    S_HOST,
    S_SIDE,
    S_SOURCES,
    S_WMASK,
    S_MAX_RULES,
    S_BYTES_SENT,
    S_BYTES_DONE,
    S_DRAM_TICKS,
    S_POLL_TICKS,
    S_SEQ,
    S_NEXT,
) = range(31)
S_FIELDS = 31
# S_NEXT: no tick before it has anything to do (the next tick the loop will simulate, as far as
# it knows, lowered by every post): Python need not call ``advance`` for a limit up to it
NEVER = np.int64(1) << 62

# What ``advance`` returns.
DONE_LIMIT, DONE_WAKE, DONE_ROOM, DONE_IDLE, DONE_STUCK = 0, 1, 2, 3, 4


@_inlined
def route(state, routers, endpoints, r, dst):
    """The output of router ``r`` a transaction for endpoint ``dst`` takes: along the row
    first, then along the column."""
    net = routers[r, R_NET]
    if net == NET_ELINK_IN:
        return endpoints[dst, E_ELINK_X]
    if net == NET_ELINK_IN_R:
        return endpoints[dst, E_ELINK_R]
    if net == NET_ELINK_OUT or net == NET_ELINK_OUT_R:
        return routers[r, R_DIR + DIR_LOCAL]
    row = routers[r, R_ROW]
    col = routers[r, R_COL]
    if dst == state[S_HOST]:
        side = state[S_SIDE]
        if side == SIDE_EAST:
            d = DIR_EAST if col < state[S_COLS] - 1 else DIR_OFF
        elif side == SIDE_WEST:
            d = DIR_WEST if col > 0 else DIR_OFF
        elif side == SIDE_SOUTH:
            d = DIR_SOUTH if row < state[S_ROWS] - 1 else DIR_OFF
        else:
            d = DIR_NORTH if row > 0 else DIR_OFF
    else:
        cols = state[S_COLS]
        dst_row = dst // cols
        dst_col = dst - dst_row * cols
        if dst_col > col:
            d = DIR_EAST
        elif dst_col < col:
            d = DIR_WEST
        elif dst_row > row:
            d = DIR_SOUTH
        elif dst_row < row:
            d = DIR_NORTH
        else:
            d = DIR_LOCAL
    return routers[r, R_DIR + d]


@_inlined
def _heap_before(heap, i, j):
    return heap[i, H_TICK] < heap[j, H_TICK] or (heap[i, H_TICK] == heap[j, H_TICK] and heap[i, H_SEQ] < heap[j, H_SEQ])


@_inlined
def _heap_swap(heap, i, j):
    for f in range(H_FIELDS):
        v = heap[i, f]
        heap[i, f] = heap[j, f]
        heap[j, f] = v


@_inlined
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


@_inlined
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
def _schedule_due(state, heap, size, table, active, seq, nxt, ident):
    """Note in ``heap`` (its count at ``state[size]``) that ``table`` row ``ident`` is next due at
    ``table[ident, nxt]``. A full heap is first rebuilt from the table, which drops stale entries."""
    n = state[size]
    if n == heap.shape[0]:
        n = 0
        for other in range(table.shape[0]):
            if table[other, active] and table[other, nxt] < NEVER and other != ident:
                _heap_add(heap, n, table[other, nxt], table[other, seq], other)
                n += 1
    _heap_add(heap, n, table[ident, nxt], table[ident, seq], ident)
    state[size] = n + 1


@_inlined
def _first_due(state, heap, size, table, active, seq, nxt):
    """The earliest tick at which a row of ``heap`` is due (``NEVER``: none), dropping stale entries:
    those of an inactive row, of an earlier activation, or of a tick since changed."""
    while state[size] > 0:
        ident = heap[0, H_ID]
        if table[ident, active] and table[ident, seq] == heap[0, H_SEQ] and table[ident, nxt] == heap[0, H_TICK]:
            return heap[0, H_TICK]
        _heap_drop(heap, state[size])
        state[size] -= 1
    return NEVER


@_inlined
def _take_due(state, heap, size, table, active, seq, nxt, stamp, due, t):
    """Take the rows of ``heap`` due at tick ``t`` into ``due[:n]``, as ``(seq, id)`` in the order
    they became active (the order in which the loop visits them); return ``n``."""
    n = 0
    while _first_due(state, heap, size, table, active, seq, nxt) <= t:
        ident = heap[0, H_ID]
        order = heap[0, H_SEQ]
        _heap_drop(heap, state[size])
        state[size] -= 1
        if table[ident, stamp] == t:
            continue  # a second entry of a row already taken
        table[ident, stamp] = t
        k = n
        while k > 0 and due[k - 1, 0] > order:
            due[k, 0] = due[k - 1, 0]
            due[k, 1] = due[k - 1, 1]
            k -= 1
        due[k, 0] = order
        due[k, 1] = ident
        n += 1
    return n


@_inlined
def _activate_router(state, routers, heap_r, r, at):
    """Router ``r`` may move a transaction from tick ``at``: make it active if it is not."""
    if routers[r, R_ACTIVE] == 0:
        routers[r, R_ACTIVE] = 1
        routers[r, R_SEQ] = state[S_SEQ]
        state[S_SEQ] += 1
    if at < routers[r, R_NEXT]:
        routers[r, R_NEXT] = at
        _schedule_due(state, heap_r, S_HEAP_R, routers, R_ACTIVE, R_SEQ, R_NEXT, r)


@_inlined
def _activate_endpoint(state, endpoints, heap_e, e, at):
    """Put endpoint ``e`` among the endpoints with messages to inject, from tick ``at``."""
    state[S_NEXT] = min(state[S_NEXT], at)
    if endpoints[e, E_ACTIVE] == 0:
        endpoints[e, E_ACTIVE] = 1
        endpoints[e, E_SEQ] = state[S_SEQ]
        state[S_SEQ] += 1
    if at < endpoints[e, E_NEXT]:
        endpoints[e, E_NEXT] = at
        _schedule_due(state, heap_e, S_HEAP_E, endpoints, E_ACTIVE, E_SEQ, E_NEXT, e)


@_inlined
def _push(state, routers, inputs, fifo, endpoints, heap_r, i, m, flit, ready, msgs, table):
    r = inputs[i, I_ROUTER]
    slot = inputs[i, I_HEAD] + inputs[i, I_COUNT]
    if slot >= state[S_DEPTH]:
        slot -= state[S_DEPTH]
    fifo[i, slot, Q_MSG] = m
    fifo[i, slot, Q_FLIT] = flit
    fifo[i, slot, Q_READY] = ready
    if routers[r, R_NET] == NET_ELINK_IN or routers[r, R_NET] == NET_ELINK_IN_R:
        fifo[i, slot, Q_OUT] = route(state, routers, endpoints, r, msgs[m, M_DST])
    else:
        fifo[i, slot, Q_OUT] = table[r, msgs[m, M_DST]]
    inputs[i, I_COUNT] += 1
    routers[r, R_COUNT] += 1
    state[S_FLITS] += 1
    _activate_router(state, routers, heap_r, r, ready)


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


@_inlined
def _schedule(state, wheel, wheel_n, at, kind, m, flit):
    bucket = at & state[S_WMASK]
    k = wheel_n[bucket]
    wheel[bucket, k, W_KIND] = kind
    wheel[bucket, k, W_MSG] = m
    wheel[bucket, k, W_FLIT] = flit
    wheel_n[bucket] = k + 1
    state[S_WHEEL] += 1


@_inlined
def _flit_bytes(msgs, m, flit):
    left = msgs[m, M_BYTES] - 8 * flit
    return 8 if left > 8 else (left if left > 0 else 0)


@_inlined
def _elink_ticks(elink, path, msgs, m, flit):
    """Ticks transaction ``flit`` of message ``m`` takes on the eLink's ``path``, which carries it
    now: a burst's if the path's last transaction came from the same endpoint to the doubleword
    before (a read request's address is the one it reads), else a whole packet's."""
    src = msgs[m, M_SRC]
    if msgs[m, M_FLAGS] & F_READ:
        addr = msgs[m, M_FROM]
    else:
        addr = msgs[m, M_ADDR] + WORDS_PER_TRANSACTION * flit
    burst = elink[path, EL_SRC] == src and elink[path, EL_ADDR] + WORDS_PER_TRANSACTION == addr
    elink[path, EL_SRC] = src
    elink[path, EL_ADDR] = addr
    if not burst:
        return elink[path, EL_PACKET]
    if flit == 0:
        msgs[m, M_FLAGS] |= F_BURST
    return elink[path, EL_BURST]


@_inlined
def _wake(state, wakes, kind, ident):
    k = state[S_WAKES]
    wakes[k, 0] = kind
    wakes[k, 1] = ident
    state[S_WAKES] = k + 1


@_inlined
def _span(state, spans, bins, link, start, end, serial):
    if state[S_TRACE_FROM] <= start < state[S_TRACE_TO]:
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
            bins[link, b] += stop - t
            t = stop


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
def _new_message(state, msgs, free, src, dst, port, network, addr, buf, words, n_bytes, pay, flags, at):
    """A message made inside the loop (a relay or a reply), counted as posted at tick ``at``."""
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
    msgs[n, M_FLITS] = max(1, (n_bytes + 7) // 8)
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
def _reply(state, t, m, msgs, free, endpoints, sources, heap_e, mem, pay):
    """A read request ``m`` reached its target at tick ``t``: the target reads the values now
    and queues a write of them back to the requester (after the DRAM's latency for the host)."""
    here = msgs[m, M_DST]
    asker = msgs[m, M_SRC]
    words = msgs[m, M_WORDS]
    at = msgs[m, M_PAY]
    for w in range(words):
        pay[at + w] = mem[msgs[m, M_FROM] + w]
    host = state[S_HOST]
    network = PORT_X if here == host or asker == host else PORT_C
    port = PORT_C if here == host else network
    when = t + (state[S_DRAM_TICKS] if here == host else 0)
    flags = F_REPLY | (msgs[m, M_FLAGS] & F_NOTIFY_DONE)
    n = _new_message(
        state,
        msgs,
        free,
        here,
        asker,
        port,
        network,
        msgs[m, M_ADDR],
        msgs[m, M_BUF],
        words,
        4 * words,
        at,
        flags,
        when,
    )
    msgs[n, M_SOURCE] = msgs[m, M_SOURCE]
    msgs[n, M_TOKEN] = msgs[m, M_TOKEN]
    _enqueue_source(msgs, sources, here, state[S_SOURCES] - 1, n)
    endpoints[here, E_PENDING] += 1
    _activate_endpoint(state, endpoints, heap_e, here, when)


@_inlined
def _complete(state, t, m, msgs, free, endpoints, sources, heap_e, bufs, rules, wakes, recs, mem, pay):
    """A message's last transaction landed at tick ``t``: replies, relays, wakes, records, then
    free it."""
    state[S_LIVE] -= 1
    state[S_LAST] = t
    state[S_BYTES_DONE] += msgs[m, M_BYTES]
    flags = msgs[m, M_FLAGS]
    b = msgs[m, M_BUF]
    here = msgs[m, M_DST]
    if flags & F_READ:
        _reply(state, t, m, msgs, free, endpoints, sources, heap_e, mem, pay)
    else:
        if flags & F_REPLY:  # the requester may send another read request
            sources[here, msgs[m, M_SOURCE], SRC_OUT] -= 1
            _activate_endpoint(state, endpoints, heap_e, here, t)
        if flags & F_NOTIFY_DONE:
            _wake(state, wakes, WAKE_DONE, msgs[m, M_TOKEN])
    if b >= 0 and not flags & F_READ:
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
                msgs,
                free,
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
            _enqueue_source(msgs, sources, here, 0, n)
            endpoints[here, E_PENDING] += 1
            endpoints[here, E_RELAY] += state[S_POLL_TICKS] + msgs[n, M_FLITS] * sources[here, 0, SRC_RATE]
            _activate_endpoint(state, endpoints, heap_e, here, noticed)
    if state[S_RECORD]:
        k = state[S_RECS]
        recs[k, C_SERIAL] = msgs[m, M_SERIAL]
        recs[k, C_SRC] = msgs[m, M_SRC]
        recs[k, C_DST] = here
        recs[k, C_BYTES] = msgs[m, M_BYTES]
        recs[k, C_POST] = msgs[m, M_POST]
        recs[k, C_INJ] = msgs[m, M_INJ]
        recs[k, C_DEL] = t
        recs[k, C_HOPS] = msgs[m, M_HOPS]
        recs[k, C_FLAGS] = flags
        recs[k, C_BUF] = b
        recs[k, C_NET] = msgs[m, M_NET]
        state[S_RECS] = k + 1
    free[state[S_FREE]] = m
    state[S_FREE] += 1


@_inlined
def _deliver_due(state, t, msgs, free, endpoints, sources, heap_e, bufs, rules, wheel, wheel_n, wakes, recs, mem, pay):
    """Step 1 of tick ``t``: land what is due and note whom it wakes."""
    bucket = t & state[S_WMASK]
    n = wheel_n[bucket]
    for k in range(n):
        m = wheel[bucket, k, W_MSG]
        if wheel[bucket, k, W_KIND] == KIND_SENT:
            _wake(state, wakes, WAKE_SENT, msgs[m, M_TOKEN])
            continue
        flit = wheel[bucket, k, W_FLIT]
        lo = 2 * flit
        hi = min(lo + 2, msgs[m, M_WORDS]) if not msgs[m, M_FLAGS] & F_READ else lo  # a request carries none
        addr = msgs[m, M_ADDR]
        if addr >= 0 and hi > lo:
            src = msgs[m, M_PAY]
            for w in range(lo, hi):
                mem[addr + w] = pay[src + w]
        b = msgs[m, M_BUF]
        if b >= 0 and hi > lo:
            bufs[b, B_WRITTEN] += hi - lo
            if bufs[b, B_WRITTEN] >= bufs[b, B_WAIT_AT]:
                bufs[b, B_WAIT_AT] = NEVER
                _wake(state, wakes, WAKE_BUFFER, b)
        msgs[m, M_DONE] += 1
        if msgs[m, M_DONE] == msgs[m, M_FLITS]:
            _complete(state, t, m, msgs, free, endpoints, sources, heap_e, bufs, rules, wakes, recs, mem, pay)
    wheel_n[bucket] = 0
    state[S_WHEEL] -= n


@_inlined
def _pop(state, routers, inputs, endpoints, heap_r, heap_e, i, t, depth):
    """Take the head transaction off input FIFO ``i`` at tick ``t``; wake the router or endpoint
    feeding it if that one found it full."""
    head = inputs[i, I_HEAD] + 1
    inputs[i, I_HEAD] = head if head < depth else 0
    inputs[i, I_COUNT] -= 1
    inputs[i, I_POPPED] = t
    inputs[i, I_FREE] = t + inputs[i, I_RATE]
    routers[inputs[i, I_ROUTER], R_COUNT] -= 1
    state[S_FLITS] -= 1
    if inputs[i, I_BLOCKED]:
        inputs[i, I_BLOCKED] = 0
        up = inputs[i, I_UP_ROUTER]
        if up >= 0:
            routers[up, R_POKE] = t + 1
            _activate_router(state, routers, heap_r, up, t + 1)
        else:
            _activate_endpoint(state, endpoints, heap_e, inputs[i, I_UP_ENDPOINT], t + 1)


@_inlined
def _count(links, link, flit_bytes, rate, waited, first):
    links[link, L_FLITS] += 1
    links[link, L_BYTES] += flit_bytes
    links[link, L_BUSY] += rate
    links[link, L_WAIT] += waited
    if waited > links[link, L_MAX_WAIT]:
        links[link, L_MAX_WAIT] = waited
    if first:
        links[link, L_MSGS] += 1


@_inlined
def _inject(
    state,
    t,
    routers,
    inputs,
    fifo,
    endpoints,
    ports,
    sources,
    links,
    msgs,
    heap_r,
    heap_e,
    due,
    wheel,
    wheel_n,
    spans,
    bins,
    table,
    elink,
):
    """Step 2 of tick ``t``: each endpoint due pushes a transaction per free port. The host's
    ports are the eLink's incoming paths, which hold a transaction for a burst's or a whole
    packet's ticks: it is ready in the FIFO at their far end in the last of them, which the
    hand-off to the edge router takes (that output's latency is a tick)."""
    n_sources = state[S_SOURCES]
    replies = n_sources - 1
    n_due = _take_due(state, heap_e, S_HEAP_E, endpoints, E_ACTIVE, E_SEQ, E_NEXT, E_STAMP, due, t)
    for a in range(n_due):
        e = due[a, 1]
        # Idle DMA channels take the next posted DMA transfer, all the messages of its chain.
        for s in range(1, replies):
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
        for p in range(N_PORTS):
            i = ports[e, p, P_FIFO]
            if i < 0 or ports[e, p, P_FREE] > t:
                continue
            chosen = -1
            for s in range(n_sources):
                m = sources[e, s, SRC_HEAD]
                if m < 0 or msgs[m, M_PORT] != p or msgs[m, M_POST] > t or sources[e, s, SRC_FREE] > t:
                    continue
                if msgs[m, M_FLAGS] & F_READ and sources[e, s, SRC_OUT] >= sources[e, s, SRC_BOUND]:
                    continue
                # Replies to read requests first, then the core's own stores and loads, then the
                # DMA channel whose transfer was posted first.
                if s == replies or s == 0 or chosen < 0:
                    chosen = s
                elif chosen != 0 and msgs[m, M_SERIAL] < msgs[sources[e, chosen, SRC_HEAD], M_SERIAL]:
                    chosen = s
                if chosen == replies:
                    break
            if e == state[S_HOST] and chosen == replies and endpoints[e, E_TURN] == replies:
                # The host's own writes and the DRAM's replies are two masters sharing the eLink:
                # after a reply, a ready write goes first, so that neither starves the other.
                m = sources[e, 0, SRC_HEAD]
                if m >= 0 and msgs[m, M_PORT] == p and msgs[m, M_POST] <= t and sources[e, 0, SRC_FREE] <= t:
                    chosen = 0
            if chosen < 0:
                continue
            if not _room(state, inputs, i, t):
                _blocked(inputs, i, t)  # a full FIFO: its next pop brings the endpoint back
                continue
            if e == state[S_HOST]:
                endpoints[e, E_TURN] = chosen
            m = sources[e, chosen, SRC_HEAD]
            flit = msgs[m, M_SENT]
            if msgs[m, M_FLAGS] & F_READ:
                msgs[m, M_SOURCE] = chosen  # its reply frees a place in this source's reads in flight
            rate = ports[e, p, P_RATE]
            ready = t
            if e == state[S_HOST]:
                rate = _elink_ticks(elink, routers[inputs[i, I_ROUTER], R_NET] - NET_ELINK_IN, msgs, m, flit)
                ready = t + rate - 1
            _push(state, routers, inputs, fifo, endpoints, heap_r, i, m, flit, ready, msgs, table)
            ports[e, p, P_FREE] = t + rate
            if chosen or msgs[m, M_FLAGS] & F_COPY:
                sources[e, chosen, SRC_FREE] = t + sources[e, chosen, SRC_RATE]
            link = ports[e, p, P_LINK]
            _count(links, link, _flit_bytes(msgs, m, flit), rate, 0, flit == 0)
            _span(state, spans, bins, link, t, t + rate, msgs[m, M_SERIAL])
            msgs[m, M_SENT] = flit + 1
            if flit + 1 == msgs[m, M_FLITS]:
                msgs[m, M_INJ] = t + rate
                nxt = msgs[m, M_NEXT]
                sources[e, chosen, SRC_HEAD] = nxt
                if nxt < 0:
                    sources[e, chosen, SRC_TAIL] = -1
                msgs[m, M_NEXT] = -1
                endpoints[e, E_PENDING] -= 1
                if msgs[m, M_FLAGS] & F_READ:
                    sources[e, chosen, SRC_OUT] += 1
                if msgs[m, M_FLAGS] & F_NOTIFY_SENT:
                    _schedule(state, wheel, wheel_n, t + rate, KIND_SENT, m, 0)
        # When this endpoint is worth a look again: the earliest tick at which one of its
        # sources has a transaction, its rate allows it and its port is free. A source held
        # back by its reads in flight is brought back by a reply, one held back by a full FIFO
        # by that FIFO's next pop (``_pop``).
        soon = NEVER
        for s in range(n_sources):
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
        if endpoints[e, E_PENDING] > 0:
            endpoints[e, E_NEXT] = soon
            if soon < NEVER:
                _schedule_due(state, heap_e, S_HEAP_E, endpoints, E_ACTIVE, E_SEQ, E_NEXT, e)
        else:
            endpoints[e, E_ACTIVE] = 0
            endpoints[e, E_NEXT] = NEVER


@_inlined
def _forward(
    state,
    t,
    routers,
    inputs,
    fifo,
    outputs,
    endpoints,
    links,
    msgs,
    heap_r,
    heap_e,
    due,
    wheel,
    wheel_n,
    spans,
    bins,
    want,
    table,
    elink,
):
    """Step 3 of tick ``t``: every router due grants its free outputs. The output of the eLink's
    outgoing ends to the host holds each transaction for a burst's or a whole packet's ticks."""
    depth = state[S_DEPTH]
    n_due = _take_due(state, heap_r, S_HEAP_R, routers, R_ACTIVE, R_SEQ, R_NEXT, R_STAMP, due, t)
    for a in range(n_due):
        r = due[a, 1]
        soon = routers[r, R_POKE] if routers[r, R_POKE] > t else NEVER
        net = routers[r, R_NET]
        in0 = routers[r, R_IN0]
        n_in = routers[r, R_IN1] - in0
        requests = 0
        for k in range(n_in):
            i = in0 + k
            want[k] = -1
            if inputs[i, I_COUNT] == 0:
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
        for first in range(n_in):
            if requests == 0:
                break
            o = want[first]
            if o < 0:
                continue
            # Output ``o``: the round-robin winner among the inputs that want it.
            k = -1
            c = outputs[o, O_RR]
            for _ in range(n_in):
                c = c + 1 if c + 1 < n_in else 0
                if want[c] == o:
                    k = c
                    break
            losers = False
            for j in range(first, n_in):
                if want[j] == o:
                    want[j] = -1
                    requests -= 1
                    losers = losers or j != k
            if outputs[o, O_BUSY] > t:
                soon = min(soon, outputs[o, O_BUSY])
                continue
            dest = outputs[o, O_DEST]
            if dest >= 0 and not _room(state, inputs, dest, t):
                if _blocked(inputs, dest, t):
                    soon = min(soon, t + 1)
                continue
            i = in0 + k
            head = inputs[i, I_HEAD]
            m = fifo[i, head, Q_MSG]
            flit = fifo[i, head, Q_FLIT]
            waited = t - fifo[i, head, Q_READY]
            _pop(state, routers, inputs, endpoints, heap_r, heap_e, i, t, depth)
            if inputs[i, I_COUNT]:
                soon = min(soon, max(inputs[i, I_FREE], fifo[i, inputs[i, I_HEAD], Q_READY]))
            rate = outputs[o, O_RATE]
            if net == NET_ELINK_OUT or net == NET_ELINK_OUT_R:
                rate = _elink_ticks(elink, net - NET_ELINK_IN, msgs, m, flit)
            outputs[o, O_BUSY] = t + rate
            if losers:
                soon = min(soon, t + rate)
            outputs[o, O_RR] = k
            link = outputs[o, O_LINK]
            _count(links, link, _flit_bytes(msgs, m, flit), rate, waited, flit == 0)
            if flit == 0:
                msgs[m, M_HOPS] += outputs[o, O_HOP]
            _span(state, spans, bins, link, t, t + rate, msgs[m, M_SERIAL])
            if dest >= 0:
                _push(
                    state,
                    routers,
                    inputs,
                    fifo,
                    endpoints,
                    heap_r,
                    dest,
                    m,
                    flit,
                    t + outputs[o, O_LATENCY],
                    msgs,
                    table,
                )
            else:
                _schedule(state, wheel, wheel_n, t + rate + outputs[o, O_LATENCY], KIND_DELIVER, m, flit)
        if routers[r, R_COUNT] > 0:
            routers[r, R_NEXT] = soon
            if soon < NEVER:
                _schedule_due(state, heap_r, S_HEAP_R, routers, R_ACTIVE, R_SEQ, R_NEXT, r)
        else:
            routers[r, R_ACTIVE] = 0
            routers[r, R_NEXT] = NEVER


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


@compiled
def advance(
    limit,
    state,
    routers,
    inputs,
    fifo,
    outputs,
    endpoints,
    ports,
    sources,
    links,
    msgs,
    free,
    wheel,
    wheel_n,
    wakes,
    heap_r,
    heap_e,
    due,
    bufs,
    rules,
    mem,
    pay,
    recs,
    spans,
    bins,
    want,
    table,
    elink,
):
    """Run ticks from ``state[S_TICK]`` up to, not including, ``limit``.

    Returns ``DONE_LIMIT`` (reached ``limit``), ``DONE_WAKE`` (step 1 of ``state[S_TICK]``
    woke Python: ``wakes[:state[S_WAKES]]``), ``DONE_ROOM`` (a table may overflow in the
    next tick: grow it and call again), ``DONE_IDLE`` (nothing left to move) or
    ``DONE_STUCK`` (messages are left that nothing will ever move: a bug of the model).
    """
    state[S_WAKES] = 0
    n_sinks_bound = wheel.shape[1]
    while True:
        t = state[S_TICK]
        if t >= limit:
            return DONE_LIMIT
        if state[S_LIVE] == 0 and state[S_WHEEL] == 0:
            return DONE_IDLE
        if state[S_PHASE] == 0:
            # Room for the worst tick: every sink completes a message and every rule fires.
            if state[S_FREE] < n_sinks_bound * (state[S_MAX_RULES] + 1):
                return DONE_ROOM
            if state[S_RECORD] and recs.shape[0] - state[S_RECS] < n_sinks_bound:
                return DONE_ROOM
            if (
                state[S_TRACE_TO] > state[S_TRACE_FROM]
                and spans.shape[0] - state[S_SPANS] < outputs.shape[0] + 3 * endpoints.shape[0]
            ):
                return DONE_ROOM
            if state[S_BIN_TICKS] > 0 and (t + 64 * state[S_BIN_TICKS]) // state[S_BIN_TICKS] >= bins.shape[1]:
                return DONE_ROOM
            _deliver_due(
                state, t, msgs, free, endpoints, sources, heap_e, bufs, rules, wheel, wheel_n, wakes, recs, mem, pay
            )
            state[S_PHASE] = 1
            if state[S_WAKES]:
                return DONE_WAKE
            if state[S_LIVE] == 0 and state[S_WHEEL] == 0:
                return DONE_IDLE  # at tick t, whose injection a later post may still join
        _inject(
            state,
            t,
            routers,
            inputs,
            fifo,
            endpoints,
            ports,
            sources,
            links,
            msgs,
            heap_r,
            heap_e,
            due,
            wheel,
            wheel_n,
            spans,
            bins,
            table,
            elink,
        )
        _forward(
            state,
            t,
            routers,
            inputs,
            fifo,
            outputs,
            endpoints,
            links,
            msgs,
            heap_r,
            heap_e,
            due,
            wheel,
            wheel_n,
            spans,
            bins,
            want,
            table,
            elink,
        )
        state[S_PHASE] = 0
        nxt = min(
            _first_due(state, heap_r, S_HEAP_R, routers, R_ACTIVE, R_SEQ, R_NEXT),
            _first_due(state, heap_e, S_HEAP_E, endpoints, E_ACTIVE, E_SEQ, E_NEXT),
        )
        nxt = min(nxt, _next_wheel_tick(state, t, wheel_n, nxt))
        state[S_NEXT] = nxt
        if nxt == NEVER:
            state[S_TICK] = t + 1
            return DONE_IDLE if state[S_LIVE] == 0 else DONE_STUCK
        state[S_TICK] = max(t + 1, min(nxt, limit))


@compiled
def post_bulk(state, msgs, free, endpoints, sources, heap_e, src, dst, at, n_bytes):
    """Queue payload-free messages ``src[j] -> dst[j]`` at tick ``at[j]`` on source 0 (the
    stores) of each sender, in the order given (which is by tick for each sender)."""
    for j in range(len(src)):
        e = src[j]
        m = _new_message(state, msgs, free, e, dst[j], PORT_C, PORT_C, -1, -1, 0, n_bytes, -1, 0, at[j])
        _enqueue_source(msgs, sources, e, 0, m)
        endpoints[e, E_PENDING] += 1
        _activate_endpoint(state, endpoints, heap_e, e, at[j])


@compiled
def post_reads(
    state, msgs, free, endpoints, sources, heap_e, src, dst, addr, buf, words, pay, flags, at, dma, read_from
):
    """Queue ``len(addr)`` read requests at endpoint ``src`` as ``post_one`` would one after another
    (``words[j]`` elements from ``read_from[j]`` at ``dst``, landing at ``addr[j]``), none with a
    callback; return the first one's serial number. The caller has made sure the free ids exist."""
    first = state[S_SERIAL]
    for j in range(len(addr)):
        post_one(
            state,
            msgs,
            free,
            endpoints,
            sources,
            heap_e,
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


@numba.njit(cache=True)
def route_table(state, routers, endpoints):
    """``route`` of every mesh router (and the eLink's outgoing end) to every endpoint."""
    table = np.full((routers.shape[0], endpoints.shape[0]), -1, np.int32)
    for r in range(routers.shape[0]):
        if routers[r, R_NET] == NET_ELINK_IN or routers[r, R_NET] == NET_ELINK_IN_R:
            continue
        for dst in range(endpoints.shape[0]):
            table[r, dst] = route(state, routers, endpoints, r, dst)
    return table


@compiled
def post_one(
    state,
    msgs,
    free,
    endpoints,
    sources,
    heap_e,
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
    m = _new_message(state, msgs, free, src, dst, port, network, addr, buf, words, n_bytes, pay, flags, at)
    msgs[m, M_FROM] = read_from
    msgs[m, M_TOKEN] = token
    if dma:
        _enqueue_dma(msgs, endpoints, src, m)
    else:
        _enqueue_source(msgs, sources, src, 0, m)
    endpoints[src, E_PENDING] += 1
    _activate_endpoint(state, endpoints, heap_e, src, at)
    return msgs[m, M_SERIAL]


def needs_compiling() -> bool:
    """Whether the next run compiles the loop (``advance``, which takes tens of seconds; the other entry
    points are small): not loaded in this process yet, and numba's disk cache (an index file, kept only
    while this source is unchanged) is missing or stale. ``False`` if numba's cache cannot be inspected,
    and under ``NUMBA_DISABLE_JIT=1``, where the loop runs as plain Python."""
    if getattr(numba.config, "DISABLE_JIT", False):  # set by numba from the environment at import
        return False
    loop: Any = advance  # its cache is numba's private attribute
    if loop.signatures:
        return False
    try:
        return not loop._cache._cache_file._load_index()
    except (AttributeError, OSError, ValueError):  # numba's private cache layout is not what it was
        return False
