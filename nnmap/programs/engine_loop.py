"""The compiled interpreter: the cores' programs and the fabric in one loop, in simpy's order.

``nnmap.programs.engine`` encodes the programs (op lists of ``Mac``, ``Sum``, ``Activate``,
``Send``, ``Signal``, ``Wait``, ``WaitFlags``, ``Begin`` and ``Step`` kernels) as rows of
``code`` and calls ``run``, which does what the simpy processes of
``nnmap.programs.interpreter`` would do on a ``FabricEnvironment``, event for event in the same
order:

- a queue of events ordered as simpy orders them: by time, then priority (a process's start
  is urgent), then the order they were scheduled in, drawn from the environment's count
  (``qt`` the times, ``qk`` the rest); ``run`` takes them while they come before simpy's first
  and returns (``SIMPY``) when simpy's comes first;
- before each event, the fabric is advanced to the event's tick (``epiphany_sim.clock``); the
  wakes it stops at are reacted to at their tick, the loop's own here, the first of Python's
  and those after it by Python (``PYTHON_WAKE``);
- each core runs its program as the interpreter's handlers do: a kernel's value is read when
  it starts and stored when its cycles are spent, a posted write blocks until it has left the
  core, a wait polls until its buffer has the count of writes, and the relays the fabric made
  it forward are paid after each span (``epiphany_sim.core.Agent``);
- every span a core spends is logged (``acts_f``, ``acts_i``) for ``engine`` to turn into
  ``Activity`` records.

Where the loop cannot go on by itself it returns, and ``engine`` does what is needed and
calls it again, which carries on where it stopped: what only Python does bit for bit (an
activation, a ``Step``'s start or store: ``TRAP``), a table of the fabric to grow
(``ROOM_MESSAGES``, ``ROOM_PAYLOAD``, ``ROOM_FABRIC``), a log to empty (``LOG_FULL``). Under
``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, NamedTuple

import numba
import numpy as np

from epiphany_sim import config
from epiphany_sim import fabric_kernel as k
from epiphany_sim.config import TICKS_PER_CYCLE
from epiphany_sim.core import KINDS
from epiphany_sim.fabric_kernel import compiled
from nnmap.programs import exact

# Op codes (code[pc, X_OP]).
OP_BEGIN, OP_MAC, OP_SUM, OP_ACTIVATE, OP_SEND, OP_STORE, OP_WAIT, OP_STEP, OP_WAIT_FLAGS = range(9)
# code[pc, :]: the op, its label's number, then its operands:
# MAC: X_A x's word, X_B x's stride, X_C w's word, X_D n; SUM: X_A the word of the first value
# summed, X_D n; ACTIVATE: X_A the sum's word, X_B the activation's number, X_C the bias's word;
# MAC, SUM, ACTIVATE: X_E the buffer stored into, X_F the word;
# SEND (to another node): X_A the first word sent (-1: the constant ``consts[pc]``), X_D words,
# X_B the receiving endpoint, X_E its buffer, X_F the word it lands at, X_G flags, X_H network;
# STORE (a write to the core's own memory): X_A, X_D, X_E, X_F as SEND;
# WAIT: X_E the buffer, X_D the count of writes; BEGIN: X_A the segment's number; STEP (a
# ``Step`` kernel, which Python begins and stores): none; WAIT_FLAGS: X_E the buffer, X_A its first
# word, X_D the flags, X_C the count each must reach, X_B the wait's label (X_LABEL the check's).
X_OP, X_LABEL, X_A, X_B, X_C, X_D, X_E, X_F, X_G, X_H = range(10)
X_FIELDS = 10

# cores_i[c, :]: the next op, the end of its program, what its next resumption does, its endpoint,
# its segment, the fabric's relay ticks when its relay debt was last found nil, the buffer a wait
# blocks on, and the order its wait began in (for a deadlock's report), the count of writes it waits for
CI_PC, CI_END, CI_AT, CI_ENDPOINT, CI_SEGMENT, CI_RELAY_TICKS, CI_WAIT_BUF, CI_WAIT_ORDER, CI_COUNT = range(9)
CI_FIELDS = 9
# cores_f[c, :]: the start of its current span, the relay cycles paid, the cycles of the Step it
# began, its totals per kind
CF_START, CF_RELAYS_PAID, CF_CYCLES, CF_TOTAL = 0, 1, 2, 3
CF_FIELDS = CF_TOTAL + len(KINDS)
# What a core's next resumption does (CI_AT).
AT_START, AT_KERNEL_DONE, AT_KERNEL_RELAYED, AT_SENT, AT_SEND_RELAYED, AT_WAKE, AT_POLLED, AT_WAIT_RELAYED = range(8)
AT_STORE = 8  # a Step's cycles are spent: Python stores its result before the core goes on
AT_FLAGS_AGAIN = 9  # a WaitFlags found a flag short: it waits for one write more (CI_COUNT)
# Activity kinds, as ``epiphany_sim.core.KINDS`` orders them.
KIND_COMPUTE, KIND_WAIT, KIND_SEND = range(3)
LABEL_RELAY = 0  # the label of a relay span is always label 0
# acts_i[k, :]: the core, the kind, the label, the segment, the bytes; acts_f[k, :]: start, end
A_CORE, A_KIND, A_LABEL, A_SEGMENT, A_BYTES = range(5)
A_FIELDS = 5
# The queue's entries: qk[k, :] priority, order scheduled, core, what it is.
Q_PRIORITY, Q_ORDER, Q_CORE, Q_KIND = range(4)
Q_FIELDS = 4
URGENT, NORMAL = 0, 1  # simpy's priorities
EV_RESUME, EV_END, EV_ALL = range(3)
# est[:]: the loop's scalars: the events queued; the core whose op the loop stopped in (-1: none)
# and whether Python has done what it stopped for (an activation's value, a Step's start or
# store); the programs started and ended; the rows of the span and label logs; the payload's top
# and the words a post found no room for; the waits begun; the ticks from a post to its
# injection; simpy's first event's priority and order (its time is ``ef[F_BEFORE]``), before
# which the loop stops; the first wake that is Python's; the order of the phase's end
(
    E_QUEUED,
    E_CURRENT,
    E_VALUE_READY,
    E_ALIVE,
    E_ENDED,
    E_ACTS,
    E_LABELS,
    E_PAY_TOP,
    E_PAY_NEED,
    E_WAITS,
    E_OVERHEAD,
    E_BEFORE_PRIORITY,
    E_BEFORE_ORDER,
    E_PYTHON_WAKE,
    E_END_ORDER,
) = range(15)
E_FIELDS = 15
# ef[:]: the clock, the cycles of one poll iteration, the time of simpy's first event (inf: none)
F_NOW, F_POLL, F_BEFORE = range(3)
TOKEN_BASE = np.int64(1) << 40  # a core's posted writes carry TOKEN_BASE + its index: Python's tokens stay below

# What ``run`` returns.
DONE, TRAP, ROOM_MESSAGES, ROOM_PAYLOAD, ROOM_FABRIC, LOG_FULL, STUCK, SIMPY, PYTHON_WAKE = range(9)
_OK = -1
_LOG_SLACK = 4  # an event logs at most two spans and one label


class Machine(NamedTuple):
    """The loop's own state beside the fabric's: the programs, the cores, the queue, the logs."""

    est: np.ndarray
    """The scalars, ``E_*``."""
    order: np.ndarray
    """The count of the events scheduled, simpy's and the loop's, lent by the environment (``lend_order``)."""
    ef: np.ndarray
    """The clock, the poll's cycles and the time of simpy's first event, ``F_*``."""
    code: np.ndarray
    """``code[pc, X_*]``: every program's ops, one after another."""
    consts: np.ndarray
    """``consts[pc]``: the value a ``Signal`` writes."""
    cycles: np.ndarray
    """``cycles[pc]``: the cycles a kernel takes."""
    values: np.ndarray
    """``values[c]``: the value core ``c``'s kernel stores when its cycles are spent."""
    cores_i: np.ndarray
    """``cores_i[c, CI_*]``."""
    cores_f: np.ndarray
    """``cores_f[c, CF_*]``."""
    waiter: np.ndarray
    """``waiter[b]``: the core waiting on buffer ``b`` (-1: none) and the count it waits for."""
    qt: np.ndarray
    """The queue's times."""
    qk: np.ndarray
    """The rest of its entries, ``Q_*``."""
    acts_f: np.ndarray
    """The spans logged: start and end."""
    acts_i: np.ndarray
    """The rest of them, ``A_*``."""
    labs: np.ndarray
    """The serial number of each message posted and its label's number (when the fabric records)."""


# The queue: a binary heap on (time, priority, order) ------------------------------------------------
@compiled
def _before(qt, qk, i, j):
    if qt[i] != qt[j]:
        return qt[i] < qt[j]
    if qk[i, Q_PRIORITY] != qk[j, Q_PRIORITY]:
        return qk[i, Q_PRIORITY] < qk[j, Q_PRIORITY]
    return qk[i, Q_ORDER] < qk[j, Q_ORDER]


@compiled
def _swap(qt, qk, i, j):
    qt[i], qt[j] = qt[j], qt[i]
    for f in range(Q_FIELDS):
        qk[i, f], qk[j, f] = qk[j, f], qk[i, f]


@compiled
def _schedule(m, at, priority, core, kind):
    """Queue an event at cycle ``at``, after every event already queued with the same time and priority."""
    est, qt, qk = m.est, m.qt, m.qk
    i = est[E_QUEUED]
    qt[i] = at
    qk[i, Q_PRIORITY] = priority
    qk[i, Q_ORDER] = m.order[0]
    qk[i, Q_CORE] = core
    qk[i, Q_KIND] = kind
    m.order[0] += 1
    est[E_QUEUED] = i + 1
    while i > 0:
        parent = (i - 1) // 2
        if not _before(qt, qk, i, parent):
            break
        _swap(qt, qk, i, parent)
        i = parent


@compiled
def _pop(m):
    """Take the first event off the queue into the last row (returned)."""
    est, qt, qk = m.est, m.qt, m.qk
    n = est[E_QUEUED] - 1
    _swap(qt, qk, 0, n)
    est[E_QUEUED] = n
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _before(qt, qk, child + 1, child):
            child += 1
        if not _before(qt, qk, child, i):
            break
        _swap(qt, qk, i, child)
        i = child
    return n


# A core's time -------------------------------------------------------------------------------------
@compiled
def _record(m, c, kind, start, end, label, segment, n_bytes):
    """``Agent._record``: log a span that lasted, and add it to the core's totals."""
    est, acts_f, acts_i = m.est, m.acts_f, m.acts_i
    if end > start:
        a = est[E_ACTS]
        acts_f[a, 0] = start
        acts_f[a, 1] = end
        acts_i[a, A_CORE] = c
        acts_i[a, A_KIND] = kind
        acts_i[a, A_LABEL] = label
        acts_i[a, A_SEGMENT] = segment
        acts_i[a, A_BYTES] = n_bytes
        est[E_ACTS] = a + 1
        m.cores_f[c, CF_TOTAL + kind] += end - start


@compiled
def _relay_debt(m, endpoints, c):
    """``Agent._relay_debt``: the cycles of relaying core ``c`` has not yet paid."""
    cores_i, cores_f = m.cores_i, m.cores_f
    ticks = endpoints[cores_i[c, CI_ENDPOINT], k.E_RELAY]
    if ticks == cores_i[c, CI_RELAY_TICKS]:
        return 0.0
    debt = ticks / TICKS_PER_CYCLE - cores_f[c, CF_RELAYS_PAID]
    if debt == 0:
        cores_i[c, CI_RELAY_TICKS] = ticks
    return debt


@compiled
def _pay_relays(m, c, debt, then):
    """``Agent._pay_relays``: a span of ``debt`` cycles forwarding relays; ``then`` follows it."""
    now = m.ef[F_NOW]
    m.cores_f[c, CF_START] = now
    m.cores_f[c, CF_RELAYS_PAID] += debt
    m.cores_i[c, CI_AT] = then
    _schedule(m, now + debt, NORMAL, c, EV_RESUME)


@compiled
def _wake_ready(m, bufs, b):
    """``Buffer.wake_ready``: resume the core waiting on buffer ``b`` if its count is reached."""
    waiter = m.waiter
    c = waiter[b, 0]
    if c < 0:
        return
    if bufs[b, k.B_WRITTEN] >= waiter[b, 1]:
        waiter[b, 0] = -1
        _schedule(m, m.ef[F_NOW], NORMAL, c, EV_RESUME)
    else:
        bufs[b, k.B_WAIT_AT] = waiter[b, 1]


@compiled
def _stored(m, bufs, b, n):
    """``Buffer._count``: ``n`` elements a core stored in its own buffer ``b``."""
    bufs[b, k.B_WRITTEN] += n
    if m.waiter[b, 0] >= 0:
        _wake_ready(m, bufs, b)


@compiled
def _claim(m, bufs, kind, ident):
    """React to a wake of the fabric if it is the loop's (a core of its waits on the buffer, or its
    posted write has left it); whether it was."""
    if kind == k.WAKE_BUFFER and ident < m.waiter.shape[0] and m.waiter[ident, 0] >= 0:
        _wake_ready(m, bufs, ident)
        return True
    if kind == k.WAKE_SENT and ident >= TOKEN_BASE:
        _schedule(m, m.ef[F_NOW], NORMAL, ident - TOKEN_BASE, EV_RESUME)
        return True
    return False


@compiled
def claim(machine, fabric, kind, ident):
    """``_claim`` from Python, at the clock's time ``machine.ef[F_NOW]``."""
    memory = fabric[6]
    return _claim(Machine(*machine), memory[1], kind, ident)


@compiled
def _react(m, state, wakes, bufs):
    """``Fabric.react``: the wakes of the tick the fabric stopped at, until one that is Python's
    (``PYTHON_WAKE``: Python reacts to it and those after it, ``E_PYTHON_WAKE`` the first)."""
    for w in range(state[k.S_WAKES]):
        if not _claim(m, bufs, wakes[w, 0], wakes[w, 1]):
            m.est[E_PYTHON_WAKE] = w
            return PYTHON_WAKE
    return _OK


# Ops -----------------------------------------------------------------------------------------------
@compiled
def _copy_values(src_mem, dst_mem, m, pc, dst):
    """Copy a write's values (from memory, or its constant) to ``dst_mem[dst:]``, as numpy's slice
    assignment would even where the two overlap."""
    src, n = m.code[pc, X_A], m.code[pc, X_D]
    if src < 0:
        dst_mem[dst] = m.consts[pc]
    elif src_mem is not dst_mem or dst <= src or dst >= src + n:
        for t in range(n):
            dst_mem[dst + t] = src_mem[src + t]
    else:
        for t in range(n - 1, -1, -1):
            dst_mem[dst + t] = src_mem[src + t]


@compiled
def _post(m, state, ends, messages, due, mem, c, pc, endpoint):
    """``Fabric.post`` of a SEND, the core told when it has left: reserve its payload, copy the
    values into it, queue the message. Returns its serial number, or minus what must grow first."""
    est, code = m.est, m.code
    words = code[pc, X_D]
    if state[k.S_FREE] == 0:
        return -ROOM_MESSAGES
    top = est[E_PAY_TOP]
    if top + words > messages[2].shape[0]:
        est[E_PAY_NEED] = words
        return -ROOM_PAYLOAD
    est[E_PAY_TOP] = top + words
    _copy_values(mem, messages[2], m, pc, top)
    tick = math.ceil(m.ef[F_NOW] * TICKS_PER_CYCLE - 1e-9)
    network = code[pc, X_H]
    serial = k.post_one(
        state,
        ends,
        messages,
        due,
        endpoint,
        code[pc, X_B],
        network,
        network,
        code[pc, X_F],
        code[pc, X_E],
        words,
        4 * words,
        top,
        code[pc, X_G] | k.F_NOTIFY_SENT,
        tick + est[E_OVERHEAD],
        False,
        -1,
        TOKEN_BASE + c,
    )
    return serial


@compiled
def _go_on(m, fabric, c):
    """Run core ``c``'s program from its next op until it must wait for an event (``run_ops``)."""
    state, _, ends, messages, _, due, memory, _ = fabric
    mem, bufs = memory[0], memory[1]
    est, ef, code, values, cores_i, cores_f = m.est, m.ef, m.code, m.values, m.cores_i, m.cores_f
    while True:
        pc = cores_i[c, CI_PC]
        now = ef[F_NOW]
        if pc == cores_i[c, CI_END]:  # the process ends: its own event, which the phase's AllOf counts
            _schedule(m, now, NORMAL, c, EV_END)
            return _OK
        op = code[pc, X_OP]
        if op == OP_BEGIN:
            cores_i[c, CI_SEGMENT] = code[pc, X_A]
            cores_i[c, CI_PC] = pc + 1
        elif op == OP_MAC or op == OP_SUM or op == OP_ACTIVATE:
            # Its value is read when it starts, numpy's to the bit: computed here (``exact``), or by
            # Python for an activation (numpy's exp is its own, no compiled one gives its bits).
            if op == OP_MAC:
                values[c] = exact.dot32(mem, code[pc, X_A], code[pc, X_B], code[pc, X_C], code[pc, X_D])
            elif op == OP_SUM:
                values[c] = mem[code[pc, X_F]] + exact.sum32(mem, code[pc, X_A], code[pc, X_D])
            elif est[E_VALUE_READY] == 0:  # Python applies the activation to the sum and bias
                values[c] = mem[code[pc, X_A]] + mem[code[pc, X_C]]
                est[E_CURRENT] = c
                return TRAP
            est[E_VALUE_READY] = 0
            cores_f[c, CF_START] = now
            cores_i[c, CI_AT] = AT_KERNEL_DONE
            _schedule(m, now + m.cycles[pc], NORMAL, c, EV_RESUME)
            return _OK
        elif op == OP_STEP:  # Python begins it (its cycles in CF_CYCLES), and stores once they are spent
            if est[E_VALUE_READY] == 0:
                est[E_CURRENT] = c
                return TRAP
            est[E_VALUE_READY] = 0
            if cores_i[c, CI_AT] == AT_STORE:
                cores_i[c, CI_AT] = AT_START
                cores_i[c, CI_PC] = pc + 1
            else:
                cores_f[c, CF_START] = now
                cores_i[c, CI_AT] = AT_KERNEL_DONE
                _schedule(m, now + cores_f[c, CF_CYCLES], NORMAL, c, EV_RESUME)
                return _OK
        elif op == OP_STORE:
            _copy_values(mem, mem, m, pc, code[pc, X_F])
            cores_i[c, CI_PC] = pc + 1
            _stored(m, bufs, code[pc, X_E], code[pc, X_D])
        elif op == OP_SEND:
            serial = _post(m, state, ends, messages, due, mem, c, pc, cores_i[c, CI_ENDPOINT])
            if serial < 0:
                est[E_CURRENT] = c
                return -serial
            if state[k.S_RECORD]:
                n = est[E_LABELS]
                m.labs[n, 0] = serial
                m.labs[n, 1] = code[pc, X_LABEL]
                est[E_LABELS] = n + 1
            cores_f[c, CF_START] = now
            cores_i[c, CI_AT] = AT_SENT
            return _OK
        else:  # OP_WAIT, or OP_WAIT_FLAGS: first for a write per flag up to the count, then one more each time
            if op == OP_WAIT:
                count = code[pc, X_D]
            elif cores_i[c, CI_AT] == AT_FLAGS_AGAIN:
                count = cores_i[c, CI_COUNT]
            else:
                count = code[pc, X_D] * code[pc, X_C]
            _wait(m, bufs, c, code[pc, X_E], count)
            return _OK


@compiled
def _wait(m, bufs, c, b, count):
    """``Agent.wait``: poll buffer ``b`` until it has ``count`` writes (block until then if it has fewer)."""
    now = m.ef[F_NOW]
    m.cores_f[c, CF_START] = now
    m.cores_i[c, CI_COUNT] = count
    if bufs[b, k.B_WRITTEN] < count:
        m.waiter[b, 0] = c
        m.waiter[b, 1] = count
        bufs[b, k.B_WAIT_AT] = count
        m.cores_i[c, CI_WAIT_BUF] = b
        m.cores_i[c, CI_WAIT_ORDER] = m.est[E_WAITS]
        m.est[E_WAITS] += 1
        m.cores_i[c, CI_AT] = AT_WAKE
    else:
        m.cores_i[c, CI_AT] = AT_POLLED
        _schedule(m, now + m.ef[F_POLL], NORMAL, c, EV_RESUME)


@compiled
def _flags_done(m, mem, pc):
    """Whether every flag of a WAIT_FLAGS has reached its count (``np.min(flags) >= done``: NaN fails)."""
    code = m.code
    for i in range(code[pc, X_D]):
        if not mem[code[pc, X_A] + i] >= code[pc, X_C]:
            return False
    return True


@compiled
def _resume(m, ends, memory, c):
    """Core ``c`` resumes: end the span it was in. Returns whether it goes on with its next op."""
    ef, code, cores_i, cores_f = m.ef, m.code, m.cores_i, m.cores_f
    at = cores_i[c, CI_AT]
    now = ef[F_NOW]
    pc = cores_i[c, CI_PC]
    endpoints = ends[0]
    segment = cores_i[c, CI_SEGMENT]
    start = cores_f[c, CF_START]
    if at == AT_START:
        return True
    if at == AT_WAKE:  # the wait's count is reached: one more iteration of the poll loop
        cores_i[c, CI_WAIT_BUF] = -1
        cores_i[c, CI_AT] = AT_POLLED
        _schedule(m, now + ef[F_POLL], NORMAL, c, EV_RESUME)
        return False
    if at == AT_POLLED:  # ``Agent._record_wait``: relays that came meanwhile end the wait
        absorbed = min(_relay_debt(m, endpoints, c), now - start)
        cores_f[c, CF_RELAYS_PAID] += absorbed
        label = code[pc, X_B] if code[pc, X_OP] == OP_WAIT_FLAGS else code[pc, X_LABEL]
        _record(m, c, KIND_WAIT, start, now - absorbed, label, segment, 0)
        _record(m, c, KIND_SEND, now - absorbed, now, LABEL_RELAY, segment, 0)
        then = AT_WAIT_RELAYED
    elif at == AT_KERNEL_DONE:
        _record(m, c, KIND_COMPUTE, start, now, code[pc, X_LABEL], segment, 0)
        then = AT_KERNEL_RELAYED
    elif at == AT_SENT:
        n_bytes = 4 * code[pc, X_D]
        _record(m, c, KIND_SEND, start, now, code[pc, X_LABEL], segment, n_bytes)
        then = AT_SEND_RELAYED
    else:  # the relays paid after a span
        _record(m, c, KIND_SEND, start, now, LABEL_RELAY, segment, 0)
        then = at
    if then != at:
        debt = _relay_debt(m, endpoints, c)
        if debt > 0:
            _pay_relays(m, c, debt, then)
            return False
    if code[pc, X_OP] == OP_WAIT_FLAGS:  # ``WaitFlags.run``: each wait is followed by a read of the flags
        if then == AT_WAIT_RELAYED:
            cores_f[c, CF_START] = now
            cores_i[c, CI_AT] = AT_KERNEL_DONE
            _schedule(m, now + m.cycles[pc], NORMAL, c, EV_RESUME)
            return False
        if not _flags_done(m, memory[0], pc):
            cores_i[c, CI_COUNT] = memory[1][code[pc, X_E], k.B_WRITTEN] + 1
            cores_i[c, CI_AT] = AT_FLAGS_AGAIN
            return True
        cores_i[c, CI_AT] = AT_START
        cores_i[c, CI_PC] = pc + 1
        return True
    if then == AT_KERNEL_RELAYED and code[pc, X_OP] == OP_STEP:
        cores_i[c, CI_AT] = AT_STORE
        return True
    if then == AT_KERNEL_RELAYED:  # the kernel's value is stored once its cycles are spent
        b = code[pc, X_E]
        memory[0][code[pc, X_F]] = m.values[c]
        _stored(m, memory[1], b, 1)
    cores_i[c, CI_PC] = pc + 1
    return True


# The loop ------------------------------------------------------------------------------------------
@compiled
def _first(m):
    """Whether the loop's first event comes before simpy's (by time, priority, order)."""
    est, qt, qk = m.est, m.qt, m.qk
    if est[E_QUEUED] == 0:
        return False
    if qt[0] != m.ef[F_BEFORE]:
        return qt[0] < m.ef[F_BEFORE]
    if qk[0, Q_PRIORITY] != est[E_BEFORE_PRIORITY]:
        return qk[0, Q_PRIORITY] < est[E_BEFORE_PRIORITY]
    return qk[0, Q_ORDER] < est[E_BEFORE_ORDER]


@compiled
def _step(m, fabric):
    """One step of ``FabricEnvironment`` whose event is the loop's: advance the fabric to the event's
    tick, then take that event, or react to the wake the fabric stopped at. ``SIMPY`` when simpy's
    event comes first (or the loop has none)."""
    state, network, ends, messages, events, due, memory, log = fabric
    est, ef = m.est, m.ef
    if not _first(m):
        return SIMPY
    now = ef[F_NOW]
    following = m.qt[0]
    if state[k.S_LIVE] or state[k.S_WHEEL]:
        limit = math.ceil(following * TICKS_PER_CYCLE - 1e-9)
        if limit > state[k.S_TICK] and (state[k.S_PHASE] or state[k.S_NEXT] < limit):
            status = k.advance(limit, state, network, ends, messages, events, due, memory, log)
            if status == k.DONE_ROOM:
                return ROOM_FABRIC
            if status == k.DONE_STUCK:
                return STUCK
            if status == k.DONE_WAKE:  # its tick comes before every queued event's time
                ef[F_NOW] = now + (state[k.S_TICK] / TICKS_PER_CYCLE - now)
                return _react(m, state, events[2], memory[1])
            if est[E_PAY_TOP] and not (state[k.S_LIVE] or state[k.S_WHEEL]):
                est[E_PAY_TOP] = 0
    n = _pop(m)
    ef[F_NOW] = m.qt[n]
    c, kind = m.qk[n, Q_CORE], m.qk[n, Q_KIND]
    if kind == EV_RESUME:
        if _resume(m, ends, memory, c):
            return _go_on(m, fabric, c)
    elif kind == EV_END:
        est[E_ENDED] += 1
        if est[E_ENDED] == est[E_ALIVE]:
            est[E_END_ORDER] = m.order[0]
            _schedule(m, ef[F_NOW], NORMAL, -1, EV_ALL)
    else:
        return DONE
    return _OK


@compiled
def start(machine, now, n):
    """Start ``n`` processes at cycle ``now``, in order (simpy's ``Initialize`` events, urgent)."""
    m = Machine(*machine)
    for c in range(n):
        _schedule(m, now, URGENT, c, EV_RESUME)
    m.est[E_ALIVE] = n


@compiled
def run(machine, fabric):
    """Take the loop's events while they come before simpy's first (``SIMPY`` when one does not),
    until the phase ends (``DONE``) or Python must step in (module docstring).

    ``machine``: a ``Machine``'s arrays as a plain tuple; ``fabric``: the fabric's ``state`` and its
    records, likewise (``Fabric.loop_args``).
    """
    m = Machine(*machine)
    est = m.est
    c = est[E_CURRENT]
    if c >= 0:  # go on where the loop stopped, in the op of core ``c`` it stopped at
        est[E_CURRENT] = -1
        status = _go_on(m, fabric, c)
        if status != _OK:
            return status
    while True:
        if m.acts_f.shape[0] - est[E_ACTS] < _LOG_SLACK or m.labs.shape[0] - est[E_LABELS] < _LOG_SLACK:
            return LOG_FULL
        status = _step(m, fabric)
        if status != _OK:
            return status


# numba keeps a function's compiled code on disk while that function's own source file is unchanged,
# but this module's functions compile the fabric's loop, ``exact``'s functions and the constants of
# both into their own code: when one of those files changes, this module's cache is thrown away too.
_SOURCES = (k, exact, config)


def _forget_stale_cache() -> None:
    """Empty the disk cache of this module's functions if a file they take in changed since it was made."""
    entries: list[Any] = [f for f in globals().values() if isinstance(f, numba.core.registry.CPUDispatcher)]
    if not entries:  # NUMBA_DISABLE_JIT=1: plain functions, nothing cached
        return
    stamp = hashlib.sha256(b"".join(Path(str(m.__file__)).read_bytes() for m in _SOURCES)).hexdigest()
    try:
        kept = Path(entries[0]._cache.cache_path) / f"{__name__}.sources"
        if kept.is_file() and kept.read_text() == stamp:
            return
        for entry in entries:
            entry._cache.flush()
        kept.write_text(stamp)
    except (AttributeError, OSError):  # numba's cache is not what it was, or not writable: leave it
        return


_forget_stale_cache()
